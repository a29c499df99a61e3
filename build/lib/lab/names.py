"""Plausible pinyin place names, drawn from a seeded RNG so a seed always yields the same city."""

from __future__ import annotations

import random
from collections.abc import Container

# Syllables that commonly open and close Hubei place names; not a dictionary, just enough variety that
# 4,088 villages rarely need a retry.
HEADS = (
    "Ba", "Bai", "Bao", "Bei", "Cai", "Chang", "Chen", "Cheng", "Da", "Dong", "Du", "Fang", "Feng", "Fu", "Gao",
    "Guan", "Gui", "Guo", "He", "Hong", "Hu", "Hua", "Huang", "Ji", "Jia", "Jin", "Jiu", "Kuang", "Lan", "Li",
    "Lian", "Lin", "Liu", "Long", "Lu", "Ma", "Mei", "Nan", "Ping", "Qi", "Qing", "San", "Shang", "Shi", "Shuang",
    "Song", "Tai", "Tan", "Tian", "Tie", "Wang", "Wu", "Xi", "Xia", "Xin", "Xu", "Yang", "Yu", "Zhang", "Zhong",
)
TAILS = (
    "an", "ba", "bei", "chong", "dian", "dun", "fan", "gang", "gou", "he", "hu", "jia", "kou", "ling", "lou",
    "men", "miao", "pu", "qiao", "shan", "shi", "shu", "si", "tai", "tan", "tang", "ting", "wan", "wu", "yan",
    "yuan", "zhai", "zhen", "zhou", "zui",
)


def join_syllables(head: str, tail: str) -> str:
    # Standard pinyin marks a syllable boundary before a, o, e with an apostrophe (Hong'an, Ping'an).
    return f"{head}'{tail}" if tail[0] in "aoe" else f"{head}{tail}"


def place_name(rng: random.Random, suffix: str, taken: Container[str]) -> str:
    for _ in range(1000):
        name = f"{join_syllables(rng.choice(HEADS), rng.choice(TAILS))} {suffix}"
        if name not in taken:
            return name
    raise RuntimeError(f"no free {suffix} name left; the syllable tables are too small")
