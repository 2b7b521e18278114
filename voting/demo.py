"""The demo property area: a realistic Beijing residential area generated from a fixed seed.

The same seed always gives the same roll, so running `voting demo` twice finds the roll
unchanged and adds nothing.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass

from voting.models import Role
from voting.services.tenancy import AreaPath

DEMO_PATH = AreaPath(
    district=("110105", "朝阳区"),
    street=("110105-004", "望京街道"),
    community=("110105-004-012", "南湖西园社区"),
    area=("NHXY", "南湖西园小区"),
    address="北京市朝阳区南湖西园",
)

# A second area in another street, so that scoping can be seen in the demo.
OTHER_PATH = AreaPath(
    district=("110105", "朝阳区"),
    street=("110105-011", "酒仙桥街道"),
    community=("110105-011-003", "驼房营社区"),
    area=("TFY", "驼房营南里小区"),
    address="北京市朝阳区驼房营南里",
)

DEMO_PASSWORD = "demo-2026"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    display_name: str


DEMO_USERS = (
    DemoUser("operator", Role.operator, "区住建委 平台管理员"),
    DemoUser("admin", Role.committee_admin, "南湖西园业委会 王秘书"),
    # A second committee admin: paper ballots are entered twice, by two different people.
    DemoUser("admin2", Role.committee_admin, "南湖西园业委会 刘委员"),
    DemoUser("juweihui", Role.residents_committee, "南湖西园社区居委会 李主任"),
    DemoUser("jiedao", Role.street_office, "望京街道办事处 赵科长"),
    DemoUser("observer", Role.observer, "观察员 陈律师"),
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
    "彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金"
    "石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍"
    "鹏建华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欣怡佳琪梓涵子轩晨曦雨桐"
    "思远博文一鸣海燕志强建国淑珍桂芳"
)

# (floor plan area range in m², share of units) for typical Beijing flats of the 2000s.
LAYOUTS = (
    ((5832, 6499), 0.25),
    ((8000, 9299), 0.40),
    ((10500, 12499), 0.25),
    ((13800, 15499), 0.10),
)
DEVELOPER_NAME = "北京南湖置业有限公司"
DEVELOPER_ID = "91110105MA01ABCD2X"
ROLL_HEADER = (
    "楼栋",
    "房号",
    "建筑面积",
    "面积来源",
    "状态",
    "业主类型",
    "业主姓名",
    "证件号码",
    "手机",
    "车位",
    "共有人",
    "监护人",
)


def _id_number(rng: random.Random) -> str:
    """A syntactically valid, made-up mainland ID number (GB 11643 check digit)."""
    year = rng.randint(1940, 2000)
    body = f"110105{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _person(rng: random.Random) -> tuple[str, str, str]:
    phone = f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}"
    return _name(rng), _id_number(rng), phone


def _area_centi(rng: random.Random) -> int:
    (low, high), _ = rng.choices(LAYOUTS, weights=[w for _, w in LAYOUTS])[0]
    return rng.randint(low, high)


def _fmt(centi: int) -> str:
    return f"{centi // 100}.{centi % 100:02d}"


def demo_roll_rows(seed: int = 20261125) -> list[dict[str, str]]:
    """About 1,100 units in ten buildings plus a garage, as roll-file rows."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for number in range(1, 11):
        building = f"{number}号楼"
        floors = rng.choice((11, 12, 16, 18, 24)) if number > 2 else 6
        entrances = 3 if floors >= 16 else 4
        flats_per_floor = 2 if floors >= 16 else rng.choice((2, 3))
        for entrance in range(1, entrances + 1):
            for floor in range(1, floors + 1):
                for flat in range(1, flats_per_floor + 1):
                    rows.append(
                        {
                            "楼栋": building,
                            "房号": f"{entrance}-{floor}{flat:02d}",
                            "建筑面积": _fmt(_area_centi(rng)),
                        }
                    )
    for space in range(1, 61):
        rows.append(
            {
                "楼栋": "地下车库",
                "房号": f"B1-{space:03d}",
                "建筑面积": _fmt(rng.randint(1250, 1500)),
            }
        )
    # Who holds what: most units one owner each; some owners hold several; the developer
    # keeps unsold and undelivered units.
    indices = list(range(len(rows)))
    rng.shuffle(indices)
    unsold = set(indices[:24])
    undelivered = set(indices[24:40])
    multi_owner_units = indices[40:130]  # 90 units shared among 36 buyers
    buyers = [_person(rng) for _ in range(36)]
    for i, row in enumerate(rows):
        row["面积来源"] = rng.choices(("不动产登记", "测绘", "购房合同"), weights=(88, 9, 3))[0]
        row["车位"] = "是" if row["楼栋"] == "地下车库" else "否"
        row["共有人"] = ""
        row["监护人"] = ""
        if i in unsold or i in undelivered:
            row.update(
                {
                    "状态": "未售" if i in unsold else "已售未交付",
                    "业主类型": "建设单位",
                    "业主姓名": DEVELOPER_NAME,
                    "证件号码": DEVELOPER_ID,
                    "手机": "010-84770000",
                }
            )
            continue
        row["状态"] = "已售"
        if i in multi_owner_units:
            person = buyers[multi_owner_units.index(i) % len(buyers)]
        else:
            person = _person(rng)
        name, id_number, phone = person
        row.update({"业主类型": "个人", "业主姓名": name, "证件号码": id_number, "手机": phone})
        if rng.random() < 0.12:
            row["共有人"] = _name(rng)
        if rng.random() < 0.004:
            row["监护人"] = _name(rng)
    # One company owns a few flats as an entity.
    for i in indices[130:134]:
        rows[i].update(
            {
                "业主类型": "单位",
                "业主姓名": "北京望京商贸有限公司",
                "证件号码": "91110105MA02EFGH3Y",
                "手机": "",
            }
        )
    return rows


def demo_roll_csv(rows: list[dict[str, str]] | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ROLL_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows if rows is not None else demo_roll_rows())
    return buffer.getvalue().encode("utf-8")
