"""Print-ready PDFs for printed owner cards (业主一卡通) and their PIN letters.

Plain data in, PDF bytes out: no Flask and no database. The caller masks holder names (see
``mask_name``), builds the QR payload URL (the seed travels in the URL fragment, which browsers
never send to a server) and decides where the PDF goes. Nothing secret is written anywhere but
that output: QR codes are computed in memory, in worker processes that receive their payloads
through a pipe, and the PDF is assembled in memory and written once at the end.

Cards are ID-1 size (85.60 × 53.98 mm), ten to an A4 sheet (two columns, five rows), each drawn
with a thin outline and with cut marks in the page margins. QR codes use error correction level
M and are drawn as vector paths, so they stay sharp at any printer resolution.

Chinese text uses a TrueType CJK font from a Debian package when one is installed (it is then
embedded, subset, in the PDF) and falls back to reportlab's built-in ``STSong-Light`` CID font,
which needs no font file but is not embedded: viewers substitute a local CJK font for it.
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import BinaryIO

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

from crypto.pin import check_pin_format, check_puk_format

__all__ = [
    "A4",
    "CARDS_PER_PAGE",
    "CARD_HEIGHT",
    "CARD_WIDTH",
    "CID_FONT",
    "QR_ERROR_LEVEL",
    "QR_SIZE",
    "TTF_CANDIDATES",
    "CardFace",
    "PinLetter",
    "QrCode",
    "Rect",
    "card_positions",
    "mask_name",
    "qr_code",
    "qr_matrix",
    "render_cards_pdf",
    "render_pin_letters_pdf",
    "resolve_cjk_font",
    "summarize_houses",
]

#: ID-1 card size (ISO/IEC 7810), in points.
CARD_WIDTH = 85.60 * mm
CARD_HEIGHT = 53.98 * mm
COLUMNS = 2
ROWS = 5
CARDS_PER_PAGE = COLUMNS * ROWS
#: Space between neighbouring cards, so that each card is cut on its own outline.
COLUMN_GAP = 8 * mm
ROW_GAP = 3 * mm
#: Smallest page margin the grid may leave (most printers cannot print closer to the edge).
MIN_MARGIN = 5 * mm

#: Side of the QR symbol on the card, quiet zone excluded.
QR_SIZE = 28 * mm
QR_ERROR_LEVEL = "M"
QR_QUIET_MODULES = 4
#: A payload so long that modules would be smaller than this is refused: it would not scan.
MIN_QR_MODULE = 0.5 * mm

#: TrueType CJK fonts from Debian packages, tried in order (path, index inside a .ttc).
#: Noto CJK (fonts-noto-cjk) is missing on purpose: it has PostScript outlines, which
#: reportlab cannot embed.
TTF_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # fonts-wqy-microhei
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),  # fonts-wqy-zenhei
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),  # fonts-droid-fallback
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),  # fonts-arphic-uming
)
#: Built-in Adobe CID font for Simplified Chinese; needs no file, is not embedded.
CID_FONT = "STSong-Light"
#: Standard PDF font for the card number and PIN digits (every viewer has it).
MONO_FONT = "Courier-Bold"

HOUSES_ON_CARD = 3
HOUSES_IN_LETTER = 12

_BAND_COLOR = (0.12, 0.31, 0.47)
_GREY = (0.38, 0.38, 0.38)
_OUTLINE_GREY = 0.55
_TEXT = (0.08, 0.08, 0.08)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ASCII_WORD = re.compile(r"[!-~]+|\s+|.", re.DOTALL)
_DARK_RUN = re.compile(rb"[^\x00]+")
#: Characters that must not start a line (closing punctuation, Chinese and ASCII).
_NO_LINE_START = frozenset("，。、；：？！）》」』】〕”’…·,.;:?!)]}%")


# --------------------------------------------------------------------------- data


def _text_field(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string")
    if _CONTROL.search(value):
        raise ValueError(f"{what} must not contain control characters")
    if not value.strip():
        raise ValueError(f"{what} must not be empty")
    return value


def _houses_field(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError("house_numbers must be a sequence of strings")
    return tuple(_text_field(house, "house number") for house in value)


@dataclass(frozen=True, slots=True)
class CardFace:
    """What one printed card shows. ``holder_name`` must already be masked (``mask_name``).

    ``qr_payload`` is the URL the QR code carries, e.g.
    ``https://host/card#v1.NHXY-000123.<base64url seed>``. It holds the card's secret, so it is
    left out of ``repr``.
    """

    card_number: str
    holder_name: str
    house_numbers: Sequence[str]
    area_name: str
    qr_payload: str = field(repr=False)

    def __post_init__(self) -> None:
        _text_field(self.card_number, "card_number")
        _text_field(self.holder_name, "holder_name")
        _text_field(self.area_name, "area_name")
        _text_field(self.qr_payload, "qr_payload")
        object.__setattr__(self, "house_numbers", _houses_field(self.house_numbers))


@dataclass(frozen=True, slots=True)
class PinLetter:
    """What one PIN letter shows: the card it belongs to, its 6-digit PIN and 8-digit PUK.

    The PIN and PUK are checked with ``crypto.pin`` (``InvalidPinFormat``, a ``ValueError``)
    and left out of ``repr``.
    """

    card_number: str
    holder_name: str
    house_numbers: Sequence[str]
    area_name: str
    pin: str = field(repr=False)
    puk: str = field(repr=False)

    def __post_init__(self) -> None:
        _text_field(self.card_number, "card_number")
        _text_field(self.holder_name, "holder_name")
        _text_field(self.area_name, "area_name")
        object.__setattr__(self, "house_numbers", _houses_field(self.house_numbers))
        check_pin_format(self.pin)
        check_puk_format(self.puk)


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle in PDF points, origin at the page's bottom-left corner."""

    x: float
    y: float
    width: float
    height: float


def mask_name(name: str, *, entity: bool = False) -> str:
    """Mask a holder's name for printing: ``王小明`` → ``王*明``, ``李娜`` → ``李*``.

    A person keeps the first and last character; an entity (company, organisation) keeps the
    first two and the last two. The hidden middle becomes one ``*`` per character, at most four,
    so a long name still fits on a card. Names too short to keep both ends keep only the first
    character (a single character becomes ``*``).
    """
    text = "".join(_text_field(name, "name").split())
    keep = 2 if entity and len(text) > 4 else 1
    if len(text) <= 1:
        return "*"
    if len(text) == 2:
        return text[0] + "*"
    hidden = len(text) - 2 * keep
    return text[:keep] + "*" * min(hidden, 4) + text[-keep:]


def summarize_houses(houses: Sequence[str], max_shown: int = HOUSES_ON_CARD) -> str:
    """The first ``max_shown`` house numbers joined by ``、``, then ``等N套`` if there are more.

    ``等N套`` counts all the holder's units: ``3号楼 2-1203、3号楼 2-1204 等5套``.
    """
    if max_shown < 1:
        raise ValueError("max_shown must be at least 1")
    houses = list(houses)
    shown = "、".join(houses[:max_shown])
    if len(houses) > max_shown:
        return f"{shown} 等{len(houses)}套"
    return shown


# --------------------------------------------------------------------------- layout


def card_positions(page_size: tuple[float, float] = A4) -> list[Rect]:
    """Where the cards go on a page: ``CARDS_PER_PAGE`` ID-1 rectangles in reading order.

    The grid is centred on the page with ``COLUMN_GAP``/``ROW_GAP`` between cards; a page too
    small to hold it with ``MIN_MARGIN`` all round is refused.
    """
    page_width, page_height = page_size
    grid_width = COLUMNS * CARD_WIDTH + (COLUMNS - 1) * COLUMN_GAP
    grid_height = ROWS * CARD_HEIGHT + (ROWS - 1) * ROW_GAP
    left = (page_width - grid_width) / 2
    bottom = (page_height - grid_height) / 2
    if min(left, bottom) < MIN_MARGIN:
        raise ValueError("page is too small for the card grid")
    top = bottom + grid_height
    return [
        Rect(
            left + column * (CARD_WIDTH + COLUMN_GAP),
            top - (row + 1) * CARD_HEIGHT - row * ROW_GAP,
            CARD_WIDTH,
            CARD_HEIGHT,
        )
        for row in range(ROWS)
        for column in range(COLUMNS)
    ]


# --------------------------------------------------------------------------- QR codes


@dataclass(frozen=True, slots=True)
class QrCode:
    """A QR symbol as a PDF path: ``modules`` per side, ``path`` in module units (origin at the
    symbol's bottom-left corner, one ``re`` per horizontal run of dark modules)."""

    modules: int
    path: str = field(repr=False)


def _symbol(payload: str) -> segno.QRCode:
    return segno.make(payload, error=QR_ERROR_LEVEL, micro=False, boost_error=False)


def qr_matrix(payload: str) -> tuple[tuple[bool, ...], ...]:
    """The QR symbol for ``payload`` (level M, no quiet zone): rows top to bottom, True = dark."""
    return tuple(tuple(bool(cell) for cell in row) for row in _symbol(payload).matrix)


def qr_code(payload: str) -> QrCode:
    """Encode ``payload`` and turn its dark modules into rectangle operators (runs per row)."""
    matrix = _symbol(payload).matrix
    size = len(matrix)
    parts = [
        f"{run.start()} {size - 1 - row_index} {run.end() - run.start()} 1 re"
        for row_index, row in enumerate(matrix)
        for run in _DARK_RUN.finditer(bytes(row))
    ]
    return QrCode(size, "\n".join(parts))


def _qr_chunk(payloads: list[str]) -> list[QrCode]:
    """Worker entry point: encode a chunk of payloads."""
    return [qr_code(payload) for payload in payloads]


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _qr_codes(payloads: Sequence[str], workers: int) -> Iterator[list[QrCode]]:
    """QR codes for ``payloads`` in order, a chunk at a time, from ``workers`` processes.

    Workers are spawned (not forked), so they inherit no open connections or locks from the
    caller; payloads reach them through the executor's pipe, never through a file.
    """
    chunk_size = max(1, min(64, math.ceil(len(payloads) / (workers * 8))))
    chunks = [list(payloads[i : i + chunk_size]) for i in range(0, len(payloads), chunk_size)]
    if workers == 1:
        for chunk in chunks:
            yield _qr_chunk(chunk)
        return
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)), mp_context=multiprocessing.get_context("spawn")
    )
    try:
        yield from pool.map(_qr_chunk, chunks)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------- fonts and text


@cache
def resolve_cjk_font(candidates: tuple[tuple[str, int], ...] = TTF_CANDIDATES) -> str:
    """Register and return the name of the font used for Chinese text.

    The first readable TrueType font among ``candidates`` is embedded; with none, the built-in
    ``STSong-Light`` CID font is used, so printing works on a machine without any CJK font.
    """
    for path, index in candidates:
        if not os.path.isfile(path):
            continue
        name = f"CardCJK-{os.path.basename(path).split('.')[0]}-{index}"
        if name in pdfmetrics.getRegisteredFontNames():
            return name
        try:
            pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
        except (TTFError, OSError, ValueError):
            continue
        return name
    if CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return CID_FONT


def _wrap(
    text: str, font: str, size: float, width: float, units: Sequence[str] | None = None
) -> list[str]:
    """Break ``text`` into lines no wider than ``width``.

    Lines break between ``units`` (default: ASCII words, runs of spaces and single other
    characters, so anywhere between Chinese characters), never before closing punctuation,
    and inside a unit only when it is wider than a whole line.
    """
    if units is None:
        units = _ASCII_WORD.findall(text)

    def fits(candidate: str) -> bool:
        return bool(pdfmetrics.stringWidth(candidate, font, size) <= width)

    lines: list[str] = []
    line = ""
    for unit in units:
        if fits(line + unit):
            line += unit
            continue
        if unit[:1] in _NO_LINE_START and len(line.rstrip()) > 1 and fits(line[-1] + unit):
            # Take the last character along, so the punctuation does not start a line.
            lines.append(line[:-1].rstrip())
            line = line[-1] + unit
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = unit.lstrip()
        if fits(line):
            continue
        pieces = _ASCII_WORD.findall(line)
        if len(pieces) > 1:
            *full, line = _wrap(line, font, size, width, pieces)
            lines.extend(full)
            continue
        while not fits(line) and len(line) > 1:
            cut = len(line) - 1
            while cut > 1 and not fits(line[:cut]):
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _fit(text: str, font: str, size: float, width: float, min_size: float) -> tuple[str, float]:
    """Shrink ``size`` down to ``min_size`` until ``text`` fits, then cut it with an ellipsis."""
    while size > min_size and pdfmetrics.stringWidth(text, font, size) > width:
        size = max(min_size, size - 0.25)
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text, size
    while len(text) > 1 and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…", size


def _house_lines(
    houses: Sequence[str], font: str, size: float, width: float, max_lines: int, max_shown: int
) -> list[str]:
    """``summarize_houses`` wrapped to at most ``max_lines``, with as many houses shown as fit.

    A line breaks between houses where it can; with even one house too long, the last line is
    cut with an ellipsis.
    """
    if not houses:
        return []
    for shown in range(min(max_shown, len(houses)), 0, -1):
        units = [f"{house}、" for house in houses[: shown - 1]] + [houses[shown - 1]]
        if len(houses) > shown:
            units.append(f" 等{len(houses)}套")
        lines = _wrap("".join(units), font, size, width, units)
        if len(lines) <= max_lines:
            return lines
    last, _ = _fit("".join(lines[max_lines - 1 :]), font, size, width, size)
    return [*lines[: max_lines - 1], last]


def _bold_text(canvas: Canvas, x: float, y: float, text: str, font: str, size: float) -> None:
    """Text with a thin stroke, for fonts that have no bold face."""
    obj = canvas.beginText(x, y)
    obj.setFont(font, size)
    obj.setTextRenderMode(2)
    obj.textOut(text)
    obj.setTextRenderMode(0)  # the mode outlives the text object in the PDF's text state
    canvas.setLineWidth(size * 0.03)
    canvas.drawText(obj)


# --------------------------------------------------------------------------- output


def _write(data: bytes, out: str | os.PathLike[str] | BinaryIO) -> None:
    """Write the finished PDF. A path is created with mode 0600: the file holds secrets."""
    if not isinstance(out, (str, os.PathLike)):
        out.write(data)
        return
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as file:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, 0o600)
        file.write(data)


def _new_canvas(buffer: io.BytesIO, title: str) -> Canvas:
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator("owners-assembly-voting")
    return canvas


# --------------------------------------------------------------------------- cards


def _draw_cut_marks(canvas: Canvas, rects: Sequence[Rect], page_size: tuple[float, float]) -> None:
    """Guillotine marks in the page margins, in line with every card edge."""
    page_width, page_height = page_size
    left = min(r.x for r in rects)
    right = max(r.x + r.width for r in rects)
    bottom = min(r.y for r in rects)
    top = max(r.y + r.height for r in rects)
    offset, length = 1.5 * mm, 4 * mm
    canvas.setLineWidth(0.3)
    canvas.setStrokeGray(0)
    for x in sorted({round(v, 4) for r in rects for v in (r.x, r.x + r.width)}):
        canvas.line(x, top + offset, x, min(page_height, top + offset + length))
        canvas.line(x, bottom - offset, x, max(0.0, bottom - offset - length))
    for y in sorted({round(v, 4) for r in rects for v in (r.y, r.y + r.height)}):
        canvas.line(left - offset, y, max(0.0, left - offset - length), y)
        canvas.line(right + offset, y, min(page_width, right + offset + length), y)


def _draw_card(canvas: Canvas, rect: Rect, card: CardFace, qr: QrCode, font: str) -> None:
    pad = 4 * mm
    band = 11 * mm
    module = QR_SIZE / qr.modules
    if module < MIN_QR_MODULE:
        raise ValueError(f"QR payload of card {card.card_number} is too long to print")
    x0, y0, width, height = rect.x, rect.y, rect.width, rect.height

    canvas.saveState()
    # Header band with the platform title and the area name.
    canvas.setFillColorRGB(*_BAND_COLOR)
    canvas.rect(x0, y0 + height - band, width, band, stroke=0, fill=1)
    canvas.setFillColorRGB(1, 1, 1)
    canvas.setStrokeColorRGB(1, 1, 1)
    title_size = 13
    _bold_text(canvas, x0 + pad, y0 + height - band + 3.6 * mm, "业主一卡通", font, title_size)
    title_width = pdfmetrics.stringWidth("业主一卡通", font, title_size)
    area_room = width - 2 * pad - title_width - 4 * mm
    area, area_size = _fit(card.area_name, font, 8, area_room, 5.5)
    canvas.setFont(font, area_size)
    canvas.drawRightString(x0 + width - pad, y0 + height - band + 4 * mm, area)

    # QR code, bottom right, with its quiet zone inside the card.
    qr_x = x0 + width - pad - QR_SIZE
    qr_y = y0 + pad
    canvas.setFillColorRGB(*_GREY)
    canvas.setFont(font, 6)
    caption_y = qr_y + QR_SIZE + QR_QUIET_MODULES * module + 0.5 * mm
    canvas.drawCentredString(qr_x + QR_SIZE / 2, caption_y, "扫码登录投票")
    canvas.saveState()
    canvas.translate(qr_x, qr_y)
    canvas.scale(module, module)
    canvas.addLiteral(f"0 g\n{qr.path}\nf")
    canvas.restoreState()

    # Text column, left of the QR code and its quiet zone.
    text_x = x0 + pad
    text_width = qr_x - QR_QUIET_MODULES * module - 1 * mm - text_x
    label_size = 6

    def label(y: float, text: str) -> None:
        canvas.setFillColorRGB(*_GREY)
        canvas.setFont(font, label_size)
        canvas.drawString(text_x, y0 + y, text)

    label(36.6 * mm, "卡号 CARD NO.")
    number, number_size = _fit(card.card_number, MONO_FONT, 12, text_width, 7)
    canvas.setFillColorRGB(*_TEXT)
    canvas.setFont(MONO_FONT, number_size)
    canvas.drawString(text_x, y0 + 32.4 * mm, number)

    label(27.6 * mm, "持卡人")
    name, name_size = _fit(card.holder_name, font, 10, text_width, 6.5)
    canvas.setFillColorRGB(*_TEXT)
    canvas.setFont(font, name_size)
    canvas.drawString(text_x, y0 + 23.8 * mm, name)

    label(19 * mm, "房屋")
    house_size = 7.5
    canvas.setFillColorRGB(*_TEXT)
    canvas.setFont(font, house_size)
    lines = _house_lines(card.house_numbers, font, house_size, text_width, 3, HOUSES_ON_CARD)
    for index, line in enumerate(lines):
        canvas.drawString(text_x, y0 + (15.6 - 3.2 * index) * mm, line)

    canvas.setFillColorRGB(*_GREY)
    note, note_size = _fit("仅限本人使用 · 遗失请立即挂失", font, 5.5, text_width, 4.5)
    canvas.setFont(font, note_size)
    canvas.drawString(text_x, y0 + 3.2 * mm, note)
    canvas.restoreState()

    # Cutting outline.
    canvas.setLineWidth(0.3)
    canvas.setStrokeGray(_OUTLINE_GREY)
    canvas.rect(x0, y0, width, height, stroke=1, fill=0)


def render_cards_pdf(
    cards: Sequence[CardFace],
    out: str | os.PathLike[str] | BinaryIO,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    font: str | None = None,
) -> int:
    """Write a print-ready PDF of ``cards``, ten to an A4 page; return the number of pages.

    ``workers`` processes encode the QR codes (``None``: one per available core, but none for
    a batch too small to repay starting them; ``1``: all in this process). ``progress`` is
    called in this process with the number of cards laid out so far, after each chunk of at
    most 64 cards and finally with ``len(cards)``. ``font`` is the registered font for Chinese
    text (default: ``resolve_cjk_font()``). ``out`` is a path (created with mode 0600) or a
    binary file; it is written only once the whole document is ready.
    """
    if not cards:
        raise ValueError("no cards to print")
    for card in cards:
        if not isinstance(card, CardFace):
            raise TypeError("cards must be CardFace instances")
    if workers is None:
        workers = _default_workers() if len(cards) >= 200 else 1
    elif workers < 1:
        raise ValueError("workers must be at least 1")
    font = font or resolve_cjk_font()
    rects = card_positions(A4)
    buffer = io.BytesIO()
    canvas = _new_canvas(buffer, "业主一卡通")
    done = 0
    for codes in _qr_codes([card.qr_payload for card in cards], workers):
        for qr in codes:
            slot = done % CARDS_PER_PAGE
            if slot == 0:
                if done:
                    canvas.showPage()
                _draw_cut_marks(canvas, rects, A4)
            _draw_card(canvas, rects[slot], cards[done], qr, font)
            done += 1
        if progress is not None:
            progress(done)
    canvas.showPage()
    canvas.save()
    _write(buffer.getvalue(), out)
    return math.ceil(len(cards) / CARDS_PER_PAGE)


# --------------------------------------------------------------------------- PIN letters


def _spaced(digits: str, group: int) -> str:
    return " ".join(digits[i : i + group] for i in range(0, len(digits), group))


def _draw_letter(canvas: Canvas, letter: PinLetter, font: str, max_pin_attempts: int) -> None:
    page_width, page_height = A4
    left = 25 * mm
    right = page_width - 25 * mm
    width = right - left
    y = page_height - 30 * mm

    canvas.setFillColorRGB(*_BAND_COLOR)
    canvas.setStrokeColorRGB(*_BAND_COLOR)
    _bold_text(canvas, left, y, "业主一卡通 · PIN 码函", font, 18)
    canvas.setFillColorRGB(0.7, 0, 0)
    canvas.setStrokeColorRGB(0.7, 0, 0)
    canvas.setLineWidth(1)
    canvas.rect(right - 34 * mm, y - 2.5 * mm, 34 * mm, 9 * mm, stroke=1, fill=0)
    canvas.setFont(font, 10)
    canvas.drawCentredString(right - 17 * mm, y, "机密 · 本人亲启")
    y -= 9 * mm
    canvas.setFillColorRGB(*_GREY)
    area, area_size = _fit(letter.area_name, font, 11, width, 8)
    canvas.setFont(font, area_size)
    canvas.drawString(left, y, area)
    y -= 5 * mm
    canvas.setStrokeColorRGB(*_BAND_COLOR)
    canvas.setLineWidth(0.8)
    canvas.line(left, y, right, y)

    y -= 12 * mm
    canvas.setFillColorRGB(*_TEXT)
    canvas.setFont(font, 12)
    canvas.drawString(left, y, f"尊敬的 {letter.holder_name}：")
    y -= 9 * mm
    intro = (
        f"您的业主一卡通（卡号 {letter.card_number}）已制作完成。投票时需同时使用卡片和下方的 "
        "PIN 码；PUK 码用于 PIN 码被锁定后解锁。"
    )
    canvas.setFont(font, 11)
    for line in _wrap(intro, font, 11, width):
        canvas.drawString(left, y, line)
        y -= 6.5 * mm

    # The card's details and its codes, in a box.
    y -= 4 * mm
    box_top = y
    label_x = left + 6 * mm
    value_x = left + 32 * mm
    value_width = right - 6 * mm - value_x
    y -= 10 * mm

    def row_label(text: str, at: float) -> None:
        canvas.setFillColorRGB(*_GREY)
        canvas.setFont(font, 11)
        canvas.drawString(label_x, at, text)

    row_label("卡号", y)
    canvas.setFillColorRGB(*_TEXT)
    canvas.setFont(MONO_FONT, 13)
    canvas.drawString(value_x, y, letter.card_number)
    y -= 9 * mm
    row_label("持卡人", y)
    canvas.setFillColorRGB(*_TEXT)
    canvas.setFont(font, 12)
    canvas.drawString(value_x, y, letter.holder_name)
    y -= 9 * mm
    row_label("房屋", y)
    canvas.setFillColorRGB(*_TEXT)
    canvas.setFont(font, 11)
    house_lines = _house_lines(letter.house_numbers, font, 11, value_width, 4, HOUSES_IN_LETTER)
    for line in house_lines or ["—"]:
        canvas.drawString(value_x, y, line)
        y -= 6 * mm

    def code_row(name: str, code: str, size: float, hint: str, at: float) -> None:
        row_label(name, at)
        canvas.setFillColorRGB(0, 0, 0)
        canvas.setFont(MONO_FONT, size)
        canvas.drawString(value_x, at - 1 * mm, code)
        canvas.setFillColorRGB(*_GREY)
        canvas.setFont(font, 9)
        canvas.drawString(value_x + 62 * mm, at, hint)

    y -= 8 * mm
    code_row("PIN 码", _spaced(letter.pin, 3), 26, "6 位数字，投票时输入", y)
    y -= 15 * mm
    code_row("PUK 码", _spaced(letter.puk, 4), 22, "8 位数字，仅用于解锁", y)
    y -= 9 * mm
    canvas.setStrokeColorRGB(*_BAND_COLOR)
    canvas.setLineWidth(1)
    canvas.rect(left, y, width, box_top - y, stroke=1, fill=0)

    # Instructions.
    y -= 13 * mm
    canvas.setFillColorRGB(*_BAND_COLOR)
    canvas.setStrokeColorRGB(*_BAND_COLOR)
    _bold_text(canvas, left, y, "使用须知", font, 13)
    y -= 9 * mm
    notes = [
        "请妥善保管本函，切勿与卡片放在一起，切勿将 PIN 码或 PUK 码告诉任何人"
        "（包括工作人员），工作人员不会向您索要。",
        "投票时先扫描卡片上的二维码，再输入 PIN 码确认。",
        f"PIN 连续输错 {max_pin_attempts} 次将锁卡，可用 PUK 码解锁并设置新的 PIN 码，"
        "也可携带身份证明联系业主大会工作人员解锁。",
        "卡片或本函遗失，请立即联系业主大会工作人员挂失并补办新卡；挂失前已投出的票仍然有效。",
    ]
    canvas.setFillColorRGB(*_TEXT)
    canvas.setFont(font, 11)
    for number, note in enumerate(notes, start=1):
        prefix = f"{number}. "
        indent = pdfmetrics.stringWidth(prefix, font, 11)
        canvas.drawString(left, y, prefix)
        for line in _wrap(note, font, 11, width - indent):
            canvas.drawString(left + indent, y, line)
            y -= 6.5 * mm
        y -= 2 * mm

    canvas.setFillColorRGB(*_GREY)
    canvas.setFont(font, 8)
    canvas.drawCentredString(
        page_width / 2, 15 * mm, f"{letter.area_name} · 卡号 {letter.card_number}"
    )


def render_pin_letters_pdf(
    letters: Sequence[PinLetter],
    out: str | os.PathLike[str] | BinaryIO,
    *,
    max_pin_attempts: int = 5,
    font: str | None = None,
) -> int:
    """Write one A4 PIN letter per card to ``out``; return the number of pages.

    Meant to be printed and mailed separately from the cards. ``max_pin_attempts`` is the
    number of consecutive wrong PINs that lock a card, as the letter tells the holder. ``out``
    is a path (created with mode 0600) or a binary file.
    """
    if not letters:
        raise ValueError("no PIN letters to print")
    for letter in letters:
        if not isinstance(letter, PinLetter):
            raise TypeError("letters must be PinLetter instances")
    font = font or resolve_cjk_font()
    buffer = io.BytesIO()
    canvas = _new_canvas(buffer, "业主一卡通 PIN 码函")
    for letter in letters:
        _draw_letter(canvas, letter, font, max_pin_attempts)
        canvas.showPage()
    canvas.save()
    _write(buffer.getvalue(), out)
    return len(letters)
