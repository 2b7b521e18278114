"""`voting cards`: issue owner cards and print them, list, revoke, unlock and reissue cards.

`voting cards issue --area CODE --out DIR` issues a card to every holder of the current roll
without an active card (or to the `--holder` refs given) and writes two files of mode 0600:
the cards (cards-<area>-<timestamp>.pdf) and the PIN letters (pin-letters-…pdf), to be
printed and sent separately. The secrets exist only in those files: print them, then delete
them. With `--chip` the keys are generated on a PKCS#11 token and only PIN letters are written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import click

from voting.clikit import CommandError, app_session

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@click.group("cards")
def cards_group() -> None:
    """Owner cards (业主一卡通): issue, list, revoke, unlock, reissue."""


@contextlib.contextmanager
def _area_context(code: str) -> Iterator[tuple[Any, Any, Any]]:
    """(app, session, area) inside an app context; a bad config or area exits 2."""
    from voting.commands.roll import _area_context as roll_area_context

    with roll_area_context(code) as context:
        yield context


@contextlib.contextmanager
def _card_context(number: str) -> Iterator[tuple[Any, Any, Any]]:
    """(app, session, card) for a card number; an unknown card exits 2."""
    from voting.services import NotFound
    from voting.services.cards import card_by_number, parse_card_number

    with app_session() as (app, session):
        try:
            card = card_by_number(session, parse_card_number(number))
        except NotFound as exc:
            raise CommandError(str(exc)) from exc
        if card is None:
            raise CommandError(f"no card {number}")
        yield app, session, card


def _check_out(out: Path) -> None:
    if not out.is_dir():
        raise CommandError(f"--out {out} is not a directory")
    if not os.access(out, os.W_OK | os.X_OK):
        raise CommandError(f"--out {out} is not writable")


class _Bars:
    """A click progress bar per phase, on stderr."""

    LABELS: ClassVar[dict[str, str]] = {
        "prepare": "Creating keys",
        "hash": "Hashing PINs",
        "write": "Storing cards",
    }

    def __init__(self) -> None:
        self._bars: dict[str, tuple[Any, int]] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        bar, shown = self._bars.get(phase, (None, 0))
        if bar is None:
            label = self.LABELS.get(phase, phase)
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(done - shown)
        self._bars[phase] = (bar, done)
        if done >= total:
            self._bars.pop(phase)[0].__exit__(None, None, None)

    def close(self) -> None:
        for bar, _shown in self._bars.values():
            bar.__exit__(None, None, None)
        self._bars.clear()


def write_pdfs(issued: Sequence[Any], area: Any, out: Path) -> list[Path]:
    """Render the cards and PIN letters of `issued` into `out`; return the paths written."""
    from voting.cards.printing import render_cards_pdf, render_pin_letters_pdf
    from voting.services.cards import card_faces, pin_letters

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    paths = []
    faces = card_faces(issued, area.name)
    try:
        if faces:
            path = out / f"cards-{area.code}-{stamp}.pdf"
            with click.progressbar(
                length=len(faces), label="Rendering cards", file=sys.stderr
            ) as bar:
                shown = 0

                def advance(done: int) -> None:
                    nonlocal shown
                    bar.update(done - shown)
                    shown = done

                render_cards_pdf(faces, path, progress=advance)
            paths.append(path)
        path = out / f"pin-letters-{area.code}-{stamp}.pdf"
        click.echo("Rendering PIN letters…", err=True)
        render_pin_letters_pdf(pin_letters(issued, area.name), path)
        paths.append(path)
    except OSError as exc:
        raise CommandError(f"cannot write to {out}: {exc}") from exc
    return paths


@cards_group.command("issue")
@click.option("--area", "area_code", required=True, help="Property area code.")
@click.option("--holder", "holders", multiple=True, help="Holder ref (repeatable); default: all.")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory for the PDFs (they hold the secrets: delete them after printing).",
)
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True, help="Platform URL.")
@click.option("--chip", is_flag=True, help="Generate the keys on a PKCS#11 token.")
@click.option("--pkcs11-module", type=click.Path(dir_okay=False), help="PKCS#11 module path.")
@click.option("--token", "token_label", help="Token label.")
@click.option("--token-pin", help="Token user PIN.")
def issue_command(
    area_code: str,
    holders: tuple[str, ...],
    out: Path,
    base_url: str,
    chip: bool,
    pkcs11_module: str | None,
    token_label: str | None,
    token_pin: str | None,
) -> None:
    """Issue cards and write the cards and PIN letters as PDFs."""
    from voting.services import ServiceError
    from voting.services.cards import issue_cards, load_issuer

    _check_out(out)
    if chip and not (pkcs11_module and token_label and token_pin):
        raise CommandError("--chip needs --pkcs11-module, --token and --token-pin")
    with _area_context(area_code) as (app, session, area), contextlib.ExitStack() as stack:
        token = None
        if chip:
            from voting.cards.chip import SOFTHSM2_MODULE, ChipError, ChipToken

            try:
                token = stack.enter_context(
                    ChipToken(pkcs11_module or SOFTHSM2_MODULE, token_label or "", token_pin or "")
                )
            except ChipError as exc:
                raise CommandError(str(exc)) from exc
        bars = _Bars()
        try:
            issued = issue_cards(
                session,
                area,
                load_issuer(app),
                base_url=base_url,
                holder_refs=list(holders) or None,
                chip=token,
                progress=bars,
            )
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bars.close()
        if not issued:
            click.echo(f"Area {area.code}: every holder already has an active card; none issued.")
            return
        paths = write_pdfs(issued, area, out)
        click.echo(f"Area {area.code}: {len(issued)} cards issued.")
        for path in paths:
            click.echo(f"  {path}")
        click.echo("The files hold the cards' secrets: print them, then delete them.")


@cards_group.command("list")
@click.option("--area", "area_code", required=True, help="Property area code.")
def list_command(area_code: str) -> None:
    """List the area's cards: number, holder ref, kind, status, locked, issued date."""
    from voting.services.cards import cards_of_area

    with _area_context(area_code) as (_app, session, area):
        cards = cards_of_area(session, area)
        click.echo(f"{'number':<24} {'holder':<12} {'kind':<8} {'status':<8} locked issued")
        for card in cards:
            click.echo(
                f"{card.number:<24} {card.holder.ref:<12} {card.kind.value:<8} "
                f"{card.status.value:<8} {'yes' if card.locked_at else 'no':<6} "
                f"{card.issued_at:%Y-%m-%d}"
            )
        click.echo(f"{len(cards)} cards")


def _reason_option(fn: Any) -> Any:
    return click.option("--reason", required=True, help="Why (logged).")(fn)


def _run(action: Any) -> None:
    from voting.services import ServiceError

    try:
        action()
    except ServiceError as exc:
        raise CommandError(str(exc)) from exc


@cards_group.command("revoke")
@click.argument("number")
@_reason_option
def revoke_command(number: str, reason: str) -> None:
    """Revoke a card for good; its web sessions end at once."""
    from voting.services.cards import revoke_card

    with _card_context(number) as (_app, session, card):
        _run(lambda: revoke_card(session, card, reason=reason, user_id=None))
        click.echo(f"Card {card.number} revoked.")


@cards_group.command("unlock")
@click.argument("number")
@_reason_option
def unlock_command(number: str, reason: str) -> None:
    """Unlock a card locked after wrong PINs; its PIN stays the same."""
    from voting.services.cards import unlock_by_admin

    with _card_context(number) as (_app, session, card):
        _run(lambda: unlock_by_admin(session, card, reason=reason, user_id=None))
        click.echo(f"Card {card.number} unlocked.")


@cards_group.command("reissue")
@click.argument("number")
@_reason_option
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True, help="Platform URL.")
def reissue_command(number: str, reason: str, out: Path, base_url: str) -> None:
    """Revoke a card (if still active) and issue its holder a new one."""
    from voting.models import PropertyArea
    from voting.services.cards import load_issuer, reissue_card

    _check_out(out)
    with _card_context(number) as (app, session, card):
        issued: list[Any] = []
        _run(
            lambda: issued.append(
                reissue_card(
                    session,
                    card,
                    load_issuer(app),
                    reason=reason,
                    user_id=None,
                    base_url=base_url,
                )
            )
        )
        area = session.get(PropertyArea, card.property_area_id)
        paths = write_pdfs(issued, area, out)
        click.echo(f"Card {card.number} replaced by {issued[0].number}.")
        for path in paths:
            click.echo(f"  {path}")
