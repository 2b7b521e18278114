"""Printed cards and PIN letters: real PDFs, read back with pypdf, rendered with PDFium, and
their QR codes decoded with ZXing."""

from __future__ import annotations

import base64
import io
import os
import re
import stat
import tempfile
from pathlib import Path

import pypdf
import pypdfium2
import pytest
import zxingcpp
from PIL import Image
from reportlab import rl_config
from reportlab.lib.units import mm

from voting.cards.printing import (
    A4,
    CARD_HEIGHT,
    CARD_WIDTH,
    CID_FONT,
    MIN_MARGIN,
    QR_SIZE,
    TTF_CANDIDATES,
    CardFace,
    PinLetter,
    card_positions,
    mask_name,
    qr_matrix,
    render_cards_pdf,
    render_pin_letters_pdf,
    resolve_cjk_font,
    summarize_houses,
)

AREA = "南海花园小区"
NAMES = ["王小明", "李娜", "欧阳小明"]


def _payload(number: str, index: int) -> str:
    seed = bytes((index * 7 + i) % 256 for i in range(32))
    encoded = base64.urlsafe_b64encode(seed).rstrip(b"=").decode()
    return f"https://vote.example.org/card#v1.{number}.{encoded}"


def _cards(count: int) -> list[CardFace]:
    cards = []
    for index in range(count):
        number = f"NHXY-{index + 100:06d}"
        houses = [f"{index % 9 + 1}号楼 {unit}-{1201 + index}" for unit in range(1, index % 6 + 2)]
        cards.append(
            CardFace(number, mask_name(NAMES[index % 3]), houses, AREA, _payload(number, index))
        )
    return cards


def _pdf(data: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(data))


def _render(cards: list[CardFace], **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    render_cards_pdf(cards, buffer, **kwargs)  # type: ignore[arg-type]
    return buffer.getvalue()


def _decode_page(data: bytes, page: int) -> list[zxingcpp.Barcode]:
    document = pypdfium2.PdfDocument(data)
    try:
        image = document[page].render(scale=300 / 72, grayscale=True).to_pil()
    finally:
        document.close()
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def _rects_drawn(page: pypdf.PageObject) -> list[tuple[float, ...]]:
    """Every ``x y w h re`` operator in the page's content stream."""
    content = page.get_contents()
    assert content is not None
    text = content.get_data().decode("latin-1")
    number = r"(-?\d+(?:\.\d+)?)"
    pattern = rf"{number}\s+{number}\s+{number}\s+{number}\s+re\b"
    return [tuple(float(v) for v in match) for match in re.findall(pattern, text)]


# --------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("name", "entity", "masked"),
    [
        ("王小明", False, "王*明"),
        ("李娜", False, "李*"),
        ("欧阳小明", False, "欧**明"),
        (" 王 小明 ", False, "王*明"),
        ("张", False, "*"),
        ("深圳市某某物业管理有限公司", True, "深圳****公司"),
        ("某某实业公司", True, "某某**公司"),
        ("某某公司", True, "某**司"),
        ("Anna Smith", False, "A****h"),
    ],
)
def test_mask_name(name: str, entity: bool, masked: str) -> None:
    assert mask_name(name, entity=entity) == masked


def test_mask_name_refuses_empty_names() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        mask_name("  ")


def test_summarize_houses() -> None:
    houses = [f"3号楼 2-120{i}" for i in range(1, 6)]
    assert summarize_houses(houses[:1]) == "3号楼 2-1201"
    assert summarize_houses(houses[:3]) == "3号楼 2-1201、3号楼 2-1202、3号楼 2-1203"
    assert summarize_houses(houses, 2) == "3号楼 2-1201、3号楼 2-1202 等5套"
    assert summarize_houses([]) == ""


def test_card_positions_are_exact_id1_cards_on_a4() -> None:
    rects = card_positions(A4)
    assert len(rects) == 10
    page_width, page_height = A4
    for rect in rects:
        assert rect.width == pytest.approx(85.60 * 72 / 25.4, abs=1e-9)
        assert rect.height == pytest.approx(53.98 * 72 / 25.4, abs=1e-9)
        assert rect.x >= MIN_MARGIN and rect.x + rect.width <= page_width - MIN_MARGIN
        assert rect.y >= MIN_MARGIN and rect.y + rect.height <= page_height - MIN_MARGIN
    assert len({round(r.x, 6) for r in rects}) == 2
    assert len({round(r.y, 6) for r in rects}) == 5
    # Reading order: left to right, then top to bottom.
    assert rects[0].x < rects[1].x and rects[0].y == rects[1].y
    assert rects[2].y < rects[0].y
    # No two cards touch: each can be cut on its own outline.
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            apart_x = a.x + a.width < b.x or b.x + b.width < a.x
            apart_y = a.y + a.height < b.y or b.y + b.height < a.y
            assert apart_x or apart_y


def test_card_positions_refuse_a_small_page() -> None:
    with pytest.raises(ValueError, match="too small"):
        card_positions((180 * mm, 280 * mm))


def test_qr_matrix_decodes_to_the_payload_at_level_m() -> None:
    payload = _payload("NHXY-000123", 5)
    matrix = qr_matrix(payload)
    size = len(matrix)
    quiet = 4
    image = Image.new("L", (size + 2 * quiet, size + 2 * quiet), 255)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                image.putpixel((x + quiet, y + quiet), 0)
    image = image.resize((image.width * 8, image.height * 8), Image.Resampling.NEAREST)
    (barcode,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert barcode.text == payload
    assert barcode.ec_level == "M"
    # A 28 mm symbol for the usual payload: modules well above half a millimetre.
    assert QR_SIZE / size >= 0.6 * mm


def test_card_and_letter_reprs_hide_secrets() -> None:
    card = _cards(1)[0]
    assert "#v1." not in repr(card)
    letter = PinLetter("NHXY-000001", "王*明", ["1号楼 1-101"], AREA, "012345", "98765432")
    assert "012345" not in repr(letter) and "98765432" not in repr(letter)


@pytest.mark.parametrize(
    ("pin", "puk"),
    [
        ("12345", "12345678"),
        ("1234567", "12345678"),
        ("12345a", "12345678"),
        ("123456", "1234567"),
        ("123456", "١٢٣٤٥٦٧٨"),
    ],
)
def test_pin_letter_checks_pin_and_puk(pin: str, puk: str) -> None:
    with pytest.raises(ValueError, match="digits"):
        PinLetter("NHXY-000001", "王*明", [], AREA, pin, puk)


def test_card_face_checks_its_fields() -> None:
    with pytest.raises(ValueError, match="card_number"):
        CardFace("", "王*明", [], AREA, "https://x/card#v1.a.b")
    with pytest.raises(ValueError, match="control"):
        CardFace("NHXY-1", "王*明\n", [], AREA, "https://x/card#v1.a.b")
    with pytest.raises(TypeError, match="house_numbers"):
        CardFace("NHXY-1", "王*明", "3号楼", AREA, "https://x/card#v1.a.b")


# --------------------------------------------------------------------------- card PDFs


@pytest.fixture(scope="module")
def cards_23() -> list[CardFace]:
    return _cards(23)


@pytest.fixture(scope="module")
def pdf_23(cards_23: list[CardFace]) -> bytes:
    return _render(cards_23, workers=1)


def test_cards_fill_a4_pages_ten_at_a_time(cards_23: list[CardFace], pdf_23: bytes) -> None:
    reader = _pdf(pdf_23)
    assert len(reader.pages) == 3
    for page in reader.pages:
        assert float(page.mediabox.width) == pytest.approx(595.2756, abs=0.01)
        assert float(page.mediabox.height) == pytest.approx(841.8898, abs=0.01)
    for index, card in enumerate(cards_23):
        text = reader.pages[index // 10].extract_text()
        assert card.card_number in text
        assert card.holder_name in text
        assert card.house_numbers[0] in text
    first = reader.pages[0].extract_text()
    assert "业主一卡通" in first and AREA in first
    # Six houses: three shown, then the count of all of them.
    assert "等6套" in reader.pages[0].extract_text()


def test_secrets_are_only_in_the_qr_codes(cards_23: list[CardFace], pdf_23: bytes) -> None:
    reader = _pdf(pdf_23)
    text = "".join(page.extract_text() for page in reader.pages)
    for card in cards_23:
        assert card.qr_payload.rsplit(".", 1)[1] not in text
    metadata = reader.metadata or {}
    assert all("#v1." not in str(value) for value in metadata.values())


def test_qr_codes_on_the_printed_page_decode_to_the_payloads(
    cards_23: list[CardFace], pdf_23: bytes
) -> None:
    first = _decode_page(pdf_23, 0)
    assert sorted(b.text for b in first) == sorted(c.qr_payload for c in cards_23[:10])
    assert {b.ec_level for b in first} == {"M"}
    last = _decode_page(pdf_23, 2)
    assert sorted(b.text for b in last) == sorted(c.qr_payload for c in cards_23[20:])
    # At 300 dpi a 28 mm symbol is about 331 pixels wide.
    for barcode in first:
        top_left, top_right = barcode.position.top_left, barcode.position.top_right
        width_mm = (top_right.x - top_left.x) / 300 * 25.4
        assert width_mm >= 22


def test_each_card_has_its_outline_drawn(pdf_23: bytes) -> None:
    reader = _pdf(pdf_23)
    expected = card_positions(A4)
    for page, count in zip(reader.pages, (10, 10, 3), strict=True):
        outlines = [
            r
            for r in _rects_drawn(page)
            if abs(r[2] - CARD_WIDTH) < 0.01 and abs(r[3] - CARD_HEIGHT) < 0.01
        ]
        assert len(outlines) == count
        for rect, (x, y, _, _) in zip(expected, outlines, strict=False):
            assert (x, y) == pytest.approx((rect.x, rect.y), abs=0.01)


def test_parallel_rendering_gives_the_same_pdf(
    cards_23: list[CardFace], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rl_config, "invariant", 1)
    seen: list[int] = []
    parallel = _render(cards_23, workers=2, progress=seen.append)
    serial = _render(cards_23, workers=1)
    assert parallel == serial
    assert seen == sorted(seen) and seen[-1] == 23 and len(seen) > 1


def test_nothing_is_written_but_the_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "cards.pdf"
    pages = render_cards_pdf(_cards(12), target, workers=2)
    assert pages == 2
    assert list(scratch.iterdir()) == []
    assert list(out_dir.iterdir()) == [target]
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert len(_pdf(target.read_bytes()).pages) == 2


def test_existing_output_file_is_made_private(tmp_path: Path) -> None:
    target = tmp_path / "cards.pdf"
    target.write_bytes(b"old")
    target.chmod(0o644)
    render_cards_pdf(_cards(1), str(target), workers=1)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert target.read_bytes().startswith(b"%PDF-")


def test_cid_font_fallback_renders_chinese() -> None:
    font = resolve_cjk_font(())
    assert font == CID_FONT
    data = _render(_cards(2), workers=1, font=font)
    assert b"/STSong-Light" in data
    text = _pdf(data).pages[0].extract_text()
    assert "NHXY-000100" in text
    assert "业主一卡通" in text


@pytest.mark.skipif(
    not any(os.path.isfile(path) for path, _ in TTF_CANDIDATES),
    reason="no TrueType CJK font from a Debian package is installed",
)
def test_installed_truetype_font_is_embedded() -> None:
    font = resolve_cjk_font()
    assert font != CID_FONT
    data = _render(_cards(1), workers=1, font=font)
    assert b"/FontFile2" in data
    assert "业主一卡通" in _pdf(data).pages[0].extract_text()


def test_many_houses_and_long_names_stay_on_the_card() -> None:
    houses = [f"{b}号楼 {u}单元-{f:02d}01" for b in range(1, 4) for u in (1, 2) for f in (3, 4)]
    long_area = "深圳市南山区南海花园（二期）业主大会第三届表决区域"
    card = CardFace(
        "NHXY-000999",
        mask_name("深圳市某某物业管理有限公司", entity=True),
        houses,
        long_area,
        _payload("NHXY-000999", 1),
    )
    data = _render([card], workers=1)
    text = _pdf(data).pages[0].extract_text()
    assert f"等{len(houses)}套" in text
    assert "深圳****公司" in text
    (barcode,) = _decode_page(data, 0)
    assert barcode.text == card.qr_payload


def test_bad_batches_are_refused() -> None:
    with pytest.raises(ValueError, match="no cards"):
        _render([])
    with pytest.raises(ValueError, match="workers"):
        _render(_cards(1), workers=0)
    too_long = CardFace("NHXY-1", "王*明", [], AREA, "https://x/card#" + "A" * 1500)
    with pytest.raises(ValueError, match="too long to print"):
        _render([too_long], workers=1)


# --------------------------------------------------------------------------- PIN letters


def test_pin_letters_one_a4_page_each(tmp_path: Path) -> None:
    letters = [
        PinLetter(card.card_number, card.holder_name, card.house_numbers, AREA, pin, puk)
        for card, pin, puk in zip(
            _cards(3),
            ("012345", "999999", "000001"),
            ("01234567", "87654321", "00000000"),
            strict=True,
        )
    ]
    target = tmp_path / "letters.pdf"
    assert render_pin_letters_pdf(letters, target, max_pin_attempts=5) == 3
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    reader = _pdf(target.read_bytes())
    assert len(reader.pages) == 3
    for page, letter in zip(reader.pages, letters, strict=True):
        assert float(page.mediabox.width) == pytest.approx(595.2756, abs=0.01)
        text = page.extract_text()
        digits = text.replace(" ", "")
        assert letter.card_number in text
        assert letter.holder_name in text
        assert letter.pin in digits and letter.puk in digits
        assert "请妥善保管本函，切勿与卡片放在一起" in text
        assert "PIN 连续输错 5 次将锁卡" in text
        assert "PUK" in text
        assert letter.house_numbers[0] in text


def test_pin_letter_tells_the_configured_attempt_limit() -> None:
    letter = PinLetter("NHXY-000001", "李*", ["1号楼 1-101"], AREA, "123456", "12345678")
    buffer = io.BytesIO()
    render_pin_letters_pdf([letter], buffer, max_pin_attempts=3)
    assert "连续输错 3 次将锁卡" in _pdf(buffer.getvalue()).pages[0].extract_text()
    with pytest.raises(ValueError, match="no PIN letters"):
        render_pin_letters_pdf([], io.BytesIO())
