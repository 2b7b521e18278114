"""The printable result notice of a meeting (表决结果公告): A4, in Chinese, to be posted in
the area (Beijing Property Management Regulation art. 37).

Plain data in, PDF bytes out: no Flask and no database. The notice names the platform, the
property area and the meeting, gives each motion's result and participation, the date of
publication and the legal basis, and lists units by house number and area only: it never
carries a holder's name or ID number (art. 47(8)). It is always in Chinese, whatever the
language of the page it is downloaded from, because it is the notice posted in the area.

Chinese text uses the CJK font of the printed owner cards (`voting.cards.printing.
resolve_cjk_font`: a Debian TrueType font embedded as a subset, else reportlab's built-in
STSong-Light), so the text can be extracted and searched.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from voting.cards.printing import resolve_cjk_font

__all__ = [
    "LEGAL_BASIS",
    "MATTERS_ZH",
    "NoticeMotion",
    "NoticeOption",
    "NoticeUnit",
    "ResultNotice",
    "choice_zh",
    "render_result_notice",
]

#: Civil Code art. 278, the matters (1)-(9), in the statute's words.
MATTERS_ZH: dict[int, str] = {
    1: "制定和修改业主大会议事规则",
    2: "制定和修改管理规约",
    3: "选举业主委员会或者更换业主委员会成员",
    4: "选聘和解聘物业服务企业或者其他管理人",
    5: "使用建筑物及其附属设施的维修资金",
    6: "筹集建筑物及其附属设施的维修资金",
    7: "改建、重建建筑物及其附属设施",
    8: "改变共有部分的用途或者利用共有部分从事经营活动",
    9: "有关共有和共同管理权利的其他重大事项",
}
_RULES_ZH = {
    "ordinary": "经参与表决专有部分面积过半数的业主且参与表决人数过半数的业主同意",
    "special": "经参与表决专有部分面积四分之三以上的业主且参与表决人数四分之三以上的业主同意",
}
_OUTCOMES_ZH = {
    "passed": "通过",
    "rejected": "未通过",
    "no_quorum": "未达到参与表决门槛，未形成决定",
    "no_decision": "没有选项单独达到表决通过标准，未形成决定",
    "not_counted": "无法计票",
}
_CHOICES_ZH = {"yes": "同意", "no": "反对", "abstain": "弃权"}
_CHANNELS_ZH = {"electronic": "电子", "paper": "纸质"}

#: The legal basis printed at the end of every notice (the quorum and majorities in the
#: words of Civil Code art. 278; the other rules summarised).
LEGAL_BASIS: tuple[str, ...] = (
    "《中华人民共和国民法典》第二百七十八条：业主共同决定事项，应当由专有部分面积占比三分之二以上"
    "的业主且人数占比三分之二以上的业主参与表决。决定前款第六项至第八项规定的事项，应当经参与表决"
    "专有部分面积四分之三以上的业主且参与表决人数四分之三以上的业主同意。决定前款其他事项，应当经"
    "参与表决专有部分面积过半数的业主且参与表决人数过半数的业主同意。",
    "依据《中华人民共和国民法典》第一千二百五十九条，“以上”包括本数；“过半数”指超过半数，恰好一半"
    "不算过半数。弃权计入参与表决的面积和人数，但不计为同意。",
    "依据《最高人民法院关于审理建筑物区分所有权纠纷案件适用法律若干问题的解释》第八条、第九条，"
    "专有部分面积按不动产登记簿记载的面积计算，尚未登记的按测绘机构的实测面积计算，尚未实测的"
    "按房屋买卖合同记载的面积计算；业主人数按专有部分的数量计算，同一买受人拥有两个以上专有部分的"
    "按一人计算，建设单位尚未出售和虽已出售但尚未交付的部分按一人计算。",
    "依据《北京市物业管理条例》第三十七条，业主大会的决定自作出之日起三日内公示；依据第四十七条，"
    "不得泄露业主个人信息，本公告只列房号和面积，不列姓名或证件号码。",
)


def choice_zh(choice: Any) -> str:
    """A ballot's choice in Chinese: 同意/反对/弃权, an option's text, or the candidates."""
    if isinstance(choice, list):
        return "、".join(str(item) for item in choice) if choice else "弃权"
    return _CHOICES_ZH.get(str(choice), str(choice))


@dataclass(frozen=True)
class NoticeOption:
    """One option (or candidate, or abstain) with its area and headcount."""

    option: str  # "yes", "no", "abstain", an option's text or a candidate's name
    area: str  # two decimals, square metres
    headcount: int


@dataclass(frozen=True)
class NoticeUnit:
    """One unit a counted ballot covers: house number, area, choice; never a name."""

    house: str
    area: str
    choice: Any
    channel: str = "electronic"


@dataclass(frozen=True)
class NoticeMotion:
    """One motion's result as the notice prints it (areas as two-decimal strings)."""

    position: int
    title: str
    matter: int
    kind: str  # "yes_no", "choice", "election"
    rule: str  # "ordinary", "special"
    scope: tuple[str, ...] | None
    outcome: str
    total_area: str | None = None
    total_headcount: int | None = None
    participating_area: str | None = None
    participating_headcount: int | None = None
    quorum_met: bool | None = None
    options: tuple[NoticeOption, ...] = ()
    winner: str | None = None
    elected: tuple[str, ...] = ()
    tied: tuple[str, ...] = ()
    seats: int = 0
    error: str | None = None
    units: tuple[NoticeUnit, ...] | None = None  # None: the rules publish totals only


@dataclass(frozen=True)
class ResultNotice:
    """Everything the notice prints."""

    platform: str
    area_name: str
    area_code: str
    meeting_title: str
    window: str  # "2026-12-16 10:00 至 2026-12-23 10:00"
    closed_at: str
    published_at: str | None  # Beijing time; None if not published yet
    printed_at: str
    roll_sha256: str
    motions: tuple[NoticeMotion, ...]
    publication_late: bool = False
    annulled_at: str | None = None
    result_hashes: tuple[tuple[int, str], ...] = field(default=())  # (position, sha256)


class _Styles:
    def __init__(self, font: str) -> None:
        base = ParagraphStyle("base", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
        self.body = base
        self.small = ParagraphStyle("small", parent=base, fontSize=8, leading=11)
        self.platform = ParagraphStyle(
            "platform", parent=base, fontSize=9, textColor=colors.HexColor("#5f6b7a")
        )
        self.title = ParagraphStyle(
            "title", parent=base, fontSize=18, leading=26, alignment=1, spaceAfter=4
        )
        self.subtitle = ParagraphStyle("subtitle", parent=base, fontSize=11, alignment=1)
        self.heading = ParagraphStyle(
            "heading", parent=base, fontSize=12, leading=18, spaceBefore=8, spaceAfter=3
        )
        self.warning = ParagraphStyle(
            "warning", parent=base, textColor=colors.HexColor("#a61b1b"), fontSize=11
        )


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _table(rows: list[list[Any]], widths: list[float], font: str) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f4")),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _outcome_text(motion: NoticeMotion) -> str:
    text = _OUTCOMES_ZH.get(motion.outcome, motion.outcome)
    if motion.outcome != "passed":
        return text
    if motion.kind == "choice" and motion.winner:
        return f"通过：{choice_zh(motion.winner)}"
    if motion.kind == "election":
        parts = [f"当选：{'、'.join(motion.elected) if motion.elected else '无'}"]
        if motion.tied:
            left = motion.seats - len(motion.elected)
            parts.append(
                f"得票相同、争夺最后席位：{'、'.join(motion.tied)}（尚余 {left} 个席位，"
                "按议事规则另行决定）"
            )
        return "；".join(parts)
    return text


def _motion_flowables(motion: NoticeMotion, styles: _Styles, font: str, width: float) -> list[Any]:
    scope = "全体业主" if motion.scope is None else "、".join(motion.scope) + " 的业主"
    head = [
        _p(f"第 {motion.position} 项　{motion.title}", styles.heading),
        _p(
            f"事项类别：《民法典》第二百七十八条第（{motion.matter}）项 "
            f"{MATTERS_ZH.get(motion.matter, '')}",
            styles.body,
        ),
        _p(f"表决通过标准：{_RULES_ZH.get(motion.rule, motion.rule)}", styles.body),
        _p(f"参与表决范围：{scope}", styles.body),
        _p(f"表决结果：{_outcome_text(motion)}", styles.body),
    ]
    if motion.outcome == "not_counted":
        return [KeepTogether(head)]
    head.append(
        _p(
            f"参与表决：专有部分面积 {motion.participating_area} 平方米（总面积 "
            f"{motion.total_area} 平方米），人数 {motion.participating_headcount} 人（总人数 "
            f"{motion.total_headcount} 人）；"
            + ("达到" if motion.quorum_met else "未达到")
            + "三分之二参与表决门槛。",
            styles.body,
        )
    )
    rows: list[list[Any]] = [["选项", "面积（平方米）", "人数"]]
    for option in motion.options:
        rows.append([_p(choice_zh(option.option), styles.body), option.area, option.headcount])
    head.append(Spacer(1, 2 * mm))
    head.append(_table(rows, [width * 0.5, width * 0.3, width * 0.2], font))
    flowables: list[Any] = [KeepTogether(head)]
    if motion.units is not None:
        flowables.append(Spacer(1, 2 * mm))
        flowables.append(
            _p(f"第 {motion.position} 项 分户表决情况（房号、面积、表决意见）", styles.body)
        )
        unit_rows: list[list[Any]] = [["房号", "面积（平方米）", "表决意见", "方式"]]
        for unit in motion.units:
            unit_rows.append(
                [
                    _p(unit.house, styles.small),
                    unit.area,
                    _p(choice_zh(unit.choice), styles.small),
                    _CHANNELS_ZH.get(unit.channel, unit.channel),
                ]
            )
        if len(unit_rows) == 1:
            unit_rows.append(["—", "", "", ""])
        flowables.append(
            _table(unit_rows, [width * 0.32, width * 0.2, width * 0.36, width * 0.12], font)
        )
    return flowables


def render_result_notice(notice: ResultNotice, *, font: str | None = None) -> bytes:
    """The notice as PDF bytes (A4, one or more pages, numbered)."""
    if not isinstance(notice, ResultNotice):
        raise TypeError("notice must be a ResultNotice")
    font = font or resolve_cjk_font()
    styles = _Styles(font)
    buffer = io.BytesIO()
    margin = 18 * mm
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=f"{notice.area_name} {notice.meeting_title} 表决结果公告",
        author=notice.platform,
        creator="owners-assembly-voting",
    )
    width = A4[0] - 2 * margin
    story: list[Any] = [
        _p(notice.platform, styles.platform),
        Spacer(1, 3 * mm),
        _p("业主大会会议表决结果公告", styles.title),
        _p(f"{notice.area_name}（{notice.area_code}）", styles.subtitle),
        _p(notice.meeting_title, styles.subtitle),
        Spacer(1, 4 * mm),
    ]
    if notice.annulled_at:
        story.append(
            _p(f"注意：本次会议的决定已于 {notice.annulled_at} 被街道办事处撤销。", styles.warning)
        )
    published = (
        f"公示日期：{notice.published_at}"
        if notice.published_at
        else f"公示日期：尚未公示（本公告打印于 {notice.printed_at}）"
    )
    if notice.published_at and notice.publication_late:
        published += "（超过表决结束后三日的公示期限）"
    for line in (
        f"投票时间：{notice.window}（北京时间）",
        f"投票结束：{notice.closed_at}",
        published,
        f"业主名册快照 SHA-256：{notice.roll_sha256}",
    ):
        story.append(_p(line, styles.body))
    for motion in notice.motions:
        story.extend(_motion_flowables(motion, styles, font, width))
    story.append(Spacer(1, 4 * mm))
    story.append(_p("法律依据", styles.heading))
    for paragraph in LEGAL_BASIS:
        story.append(_p(paragraph, styles.small))
    if notice.result_hashes:
        story.append(Spacer(1, 2 * mm))
        story.append(
            _p(
                "各表决事项计票结果的 SHA-256（已记入审计日志，可用 voting verify 核验）：",
                styles.small,
            )
        )
        for position, digest in notice.result_hashes:
            story.append(_p(f"第 {position} 项：{digest}", styles.small))

    def footer(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.setFillGray(0.4)
        canvas.drawCentredString(A4[0] / 2, 10 * mm, f"{notice.platform} · 第 {doc.page} 页")
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
