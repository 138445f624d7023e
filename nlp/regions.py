"""Region extraction: which province / city / district a post is about.

A compact gazetteer (nlp/resources/gazetteer.tsv, built by `nlp build-gazetteer`
from the 2023 administrative divisions, WTFPL) lists every province, city and
county-level unit with its official name, safe short names and parent code;
nlp/resources/townships.tsv (same build) maps the 30k township names (十里街道,
姑塘镇) to their districts, which is how most local complaints say where they are.

Extraction scans the text for the longest gazetteer name at each position
(a dict lookup per candidate length, bucketed by first character — an
Aho-Corasick-like scan without a C extension), then:

* rejects false friends: a name followed by 路/西路/街/大道/巷/桥/公园 … is a
  street or landmark (南京路 and 北京西路 are in Shanghai), 北京时间 is a clock and
  兰州拉面 a dish; a few names have their own (中山大学 is named after Sun Yat-sen);
* when jieba tokens are available, a match must start on a token boundary
  (孙中山 is not 中山) — short names and two-character names must end on one too,
  unless an institution suffix follows inside the same token (江西师范大学 and
  北京大学 are one jieba word each but say where they are) or another place name
  does (广西南宁);
* resolves ambiguous names (朝阳区: Beijing or Changchun; 朝阳: Liaoning's city
  or a district) by co-mentioned provinces/cities, then the office's home
  region, then the higher administrative level, then the lowest code; a
  township name shared by many counties (城关镇) is dropped unless context or
  the home region settles it;
* groups the mentions by province, keeps the province mentioned most, and
  returns its most specific place, with parents filled from the gazetteer.

When the text names no place but says 我市/本市/全市 (a local outlet's "our
city"), the office's home city is meant. Failing that, the author's profile
location ("江西 九江") is parsed the same way and the result is marked
source="author".

Former names of units renamed or merged since the 2000s (九江县 → 柴桑区, 宣武区 →
西城区, 襄樊 → 襄阳) come from nlp/resources/region_aliases.tsv; old names live on
in profiles and in people's speech.
"""
from __future__ import annotations

import csv
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from index.schema import Region

from .errors import DataNotFoundError, ResourceError

logger = logging.getLogger(__name__)

RESOURCES = Path(__file__).resolve().parent / "resources"
DEFAULT_GAZETTEER = RESOURCES / "gazetteer.tsv"

PROVINCE, CITY, DISTRICT = 1, 2, 3
_LEVEL_NAMES = {PROVINCE: "province", CITY: "city", DISTRICT: "district"}
_LEVEL_CODES = {v: k for k, v in _LEVEL_NAMES.items()}

RESOURCE_ALIASES = RESOURCES / "region_aliases.tsv"
DEFAULT_TOWNSHIPS = RESOURCES / "townships.tsv"
TOWNSHIP_SUFFIXES = ("街道", "镇", "乡", "苏木")

# A place name directly followed by one of these is a street, bridge or landmark named after it
# (南京路, 北京西路, 人民三路), a dish (兰州拉面, 沙县小吃) or the clock (北京时间).
FALSE_FRIEND_SUFFIXES = (
    "路", "街", "大街", "大道", "巷", "胡同", "弄", "桥", "大桥", "隧道", "公园",
    "广场", "大厦", "商场", "商城", "酒店", "饭店", "宾馆", "花园", "小区", "菜",
    "时间", "拉面", "小吃", "烤鸭", "米粉", "牛肉面", "火锅", "镇", "乡", "村",
)
ADMIN_SUFFIXES = ("省", "市", "区", "县", "州", "盟", "旗", *TOWNSHIP_SUFFIXES)
_FALSE_FRIEND = re.compile("(?:[东西南北中]|[一二三四五六七八九十]{1,2})?(?:路|街|大街|大道)|"
                           + "|".join(sorted(FALSE_FRIEND_SUFFIXES, key=len, reverse=True)))
# Names honouring a person rather than the place: 中山大学 is in Guangzhou, 中山陵 in Nanjing.
NAME_FALSE_FRIENDS: dict[str, tuple[str, ...]] = {
    "中山": ("大学", "医院", "陵", "装", "纪念", "舰", "先生", "公园", "中学", "小学"),
}
# Inside one jieba word a place name may still be the place: 江西师范大学, 北京大学, 九江学院,
# 浔阳晚报, 香港中文大学. The name must start the word; one of these must follow it.
INSTITUTION_SUFFIXES = (
    "大学", "学院", "师范", "师大", "理工", "科技", "医科", "医学院", "中医药", "财经", "政法", "工业",
    "农业", "交通", "外国语", "中文大学", "职业", "中学", "小学", "一中", "二中", "三中", "实验", "附中",
    "日报", "晚报", "都市报", "电视台", "广播", "卫视", "新闻", "医院", "人民医院", "中心医院", "妇幼",
    "火车站", "高铁站", "机场", "东站", "西站", "南站", "北站", "银行", "农商", "公安", "警方", "交警",
    "消防", "市委", "市政府", "县委", "县政府", "区委", "区政府", "省委", "省政府", "人大", "政协",
    "法院", "检察院", "海关", "地铁", "公交", "市民", "网友", "人",
)
# A local outlet writes 我市/本市/全市 for its own city, 我县/全县/我区 for its county or district.
_HOME_REFERENCE = re.compile(r"(?:我|本|全)(市|县|区)(?![长委民场])")
MAX_MENTIONS = 64   # long articles: the first mentions decide, and resolution stays cheap


@dataclass(frozen=True)
class Place:
    code: str
    level: int
    name: str                        # official name; pseudo-cities of municipalities carry the province name
    short_names: tuple[str, ...] = ()
    parent: str | None = None
    indexed: bool = True             # False: never matched in text (市辖区, generic names like 城区)
    display: bool = True             # False: pseudo unit that is not reported (省直辖县级行政区划)

    @property
    def province_code(self) -> str:
        return self.code[:2]


@dataclass
class Mention:
    start: int
    end: int
    surface: str
    candidates: list[Place]
    full_name: bool
    place: Place | None = None
    township: bool = False           # 十里街道: names a township, stands for its district


class Gazetteer:
    """Places by code and by name (full and short), former names, and township names.

    Townships (街道/镇/乡, 41k of them) are matched by full name only and stand for
    the district they belong to; the Region schema stops at the district.
    """

    def __init__(self, places: Iterable[Place], source: str = "", aliases: Mapping[str, str] | None = None,
                 townships: Mapping[str, Sequence[str]] | None = None):
        self.source = source
        self.places: dict[str, Place] = {p.code: p for p in places}
        self._by_name: dict[str, list[tuple[Place, bool]]] = defaultdict(list)
        for place in self.places.values():
            if not place.indexed:
                continue
            self._by_name[place.name].append((place, True))
            for short in place.short_names:
                self._by_name[short].append((place, False))
        self.aliases: dict[str, str] = {}
        for alias, code in (aliases or {}).items():
            if code not in self.places:
                raise ResourceError(f"region alias {alias!r} points at unknown code {code}")
            if alias in self._by_name:
                continue      # a current name always wins over a former one
            self.aliases[alias] = code
            self._by_name[alias].append((self.places[code], True))
        self._townships: dict[str, list[tuple[Place, bool]]] = {}
        for name, districts in (townships or {}).items():
            known = [(self.places[c], True) for c in districts if c in self.places]
            if known and name not in self._by_name:
                self._townships[name] = known
        # Candidate lengths per first character, longest first: the scan tries only these.
        lengths: dict[str, set[int]] = defaultdict(set)
        for name in (*self._by_name, *self._townships):
            lengths[name[0]].add(len(name))
        self._lengths = {ch: sorted(ls, reverse=True) for ch, ls in lengths.items()}

    def __len__(self) -> int:
        return len(self.places)

    # --- loading ---------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, aliases: str | Path | None = None,
             townships: str | Path | None = None) -> "Gazetteer":
        """Read a gazetteer TSV, plus former names and township names from their TSVs when given."""
        path = Path(path)
        if not path.exists():
            raise ResourceError(f"gazetteer {path} not found; build it with `yuqing nlp build-gazetteer`")
        places: list[Place] = []
        with path.open(encoding="utf-8") as fh:
            rows = csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")
            for lineno, row in enumerate(rows, 2):
                try:
                    places.append(Place(
                        code=row["code"], level=_LEVEL_CODES[row["level"]], name=row["name"],
                        short_names=tuple(s for s in row["short_names"].split(",") if s),
                        parent=row["parent"] or None, indexed=row["indexed"] == "1",
                        display=row["display"] == "1"))
                except (KeyError, AttributeError) as exc:
                    raise ResourceError(f"gazetteer {path}: malformed row near line {lineno}: {exc}") from None
        return cls(places, source=str(path), aliases=load_aliases(aliases) if aliases else None,
                   townships=load_townships(townships) if townships else None)

    @staticmethod
    @lru_cache(maxsize=1)
    def default() -> "Gazetteer | None":
        """The shipped gazetteer, or None (with a warning) when it has not been built."""
        if not DEFAULT_GAZETTEER.exists():
            logger.warning("no gazetteer at %s; region extraction is off until `nlp build-gazetteer` runs",
                           DEFAULT_GAZETTEER)
            return None
        return Gazetteer.load(DEFAULT_GAZETTEER, RESOURCE_ALIASES if RESOURCE_ALIASES.exists() else None,
                              DEFAULT_TOWNSHIPS if DEFAULT_TOWNSHIPS.exists() else None)

    def save(self, path: str | Path, header: str = "") -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            for line in header.splitlines():
                fh.write(f"# {line}\n")
            writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
            writer.writerow(["code", "level", "name", "short_names", "parent", "indexed", "display"])
            for p in sorted(self.places.values(), key=lambda p: p.code):
                writer.writerow([p.code, _LEVEL_NAMES[p.level], p.name, ",".join(p.short_names),
                                 p.parent or "", int(p.indexed), int(p.display)])

    # --- queries ---------------------------------------------------------
    def lookup(self, name: str) -> list[Place]:
        return [p for p, _ in self._by_name.get(name, ())]

    def names_at(self, text: str, i: int) -> Iterable[tuple[str, list[tuple[Place, bool]]]]:
        """Gazetteer names starting at text[i], longest first (a township yields its districts)."""
        for length in self._lengths.get(text[i], ()):
            name = text[i:i + length]
            entries = self._by_name.get(name) or self._townships.get(name)
            if entries:
                yield name, entries

    def is_township(self, name: str) -> bool:
        return name in self._townships and name not in self._by_name

    def township_districts(self, name: str) -> list[Place]:
        return [p for p, _ in self._townships.get(name, ())]

    def ancestors(self, place: Place) -> list[Place]:
        chain = []
        code = place.parent
        while code and code in self.places:
            chain.append(self.places[code])
            code = self.places[code].parent
        return chain

    @staticmethod
    def contains(outer: Place, inner: Place) -> bool:
        """Codes nest by prefix: province 36 ⊃ city 3604 ⊃ district 360402."""
        return len(inner.code) > len(outer.code) and inner.code.startswith(outer.code)

    def region(self, place: Place, source: str) -> Region:
        parts: dict[str, str | None] = {"source": source}
        for p in [place, *self.ancestors(place)]:
            if not p.display:
                continue
            key = _LEVEL_NAMES[p.level]
            parts[key] = p.name
            parts[f"{key}_code"] = p.code
        return Region(**parts)

    def dictionary_words(self, existing: Mapping[str, int]) -> list[tuple[str, int, str]]:
        """Place names for the segmenter as (word, frequency, tag), so 濂溪区 stays one token.

        Plain tuples: nlp.segment reads the gazetteer, so this module does not import it back."""
        words = []
        for name, entries in self._by_name.items():
            if len(name) < 3 and any(full for _, full in entries):
                continue   # 和县, 单县: leave two-character names to jieba's own statistics
            floor = 800 if any(full for _, full in entries) else 300
            words.append((name, max(existing.get(name, 0), floor), "ns"))
        return words


def load_townships(path: str | Path) -> dict[str, list[str]]:
    """Township names: `name<TAB>district codes (comma-separated)` per line, '#' comments, a header row."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ResourceError(f"townships {path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ResourceError(f"townships {path}: not UTF-8; rebuild it with `yuqing nlp build-gazetteer`") from None
    townships: dict[str, list[str]] = {}
    for lineno, line in enumerate(lines, 1):
        if not line or line.startswith("#") or line.startswith("name\t"):
            continue
        name, _, codes = line.partition("\t")
        if not name or not codes:
            raise ResourceError(f"townships {path}:{lineno}: expected 'name<TAB>codes', got {line!r}")
        townships[name] = codes.split(",")
    return townships


def load_aliases(path: str | Path) -> dict[str, str]:
    """Former place names: `alias<TAB>code<TAB>note` per line, '#' comments, a header row."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise ResourceError(f"region aliases {path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ResourceError(f"region aliases {path}: not UTF-8; re-save it as UTF-8") from None
    aliases: dict[str, str] = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#") or line.startswith("alias\t"):
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].strip() or not parts[1].strip().isdigit():
            raise ResourceError(f"region aliases {path}:{lineno}: expected 'alias<TAB>code[<TAB>note]', got {line!r}")
        aliases[parts[0].strip()] = parts[1].strip()
    return aliases


class RegionExtractor:
    """Find the region a text is about; fall back to the author's location."""

    def __init__(self, gazetteer: Gazetteer, home: Sequence[str] = (), segmenter=None):
        self.gazetteer = gazetteer
        self.home = tuple(home)
        self.segmenter = segmenter

    @classmethod
    def default(cls, home: Sequence[str] = (), segmenter=None) -> "RegionExtractor":
        """The shipped gazetteer. Pass the pipeline's segmenter (nlp.segment.default_segmenter()) for
        word boundaries; nlp.segment imports this module, so it is not fetched from here."""
        gazetteer = Gazetteer.default()
        if gazetteer is None:
            raise ResourceError(f"gazetteer {DEFAULT_GAZETTEER} missing; run `yuqing nlp build-gazetteer`")
        return cls(gazetteer, home, segmenter)

    def extract(self, text: str, author_location: str | None = None, home: Sequence[str] | None = None,
                *, words: Sequence[str] | None = None) -> Region | None:
        """Region named in `text` (source="text"), else parsed from `author_location` (source="author").

        `words` is the jieba segmentation of `text` when the caller already has it
        (the enricher does); otherwise the extractor segments the text itself.
        """
        home = self.home if home is None else tuple(home)
        if text:
            if words is None and self.segmenter is not None:
                words = self.segmenter.cut(text)
            boundaries = _boundaries(text, words) if words is not None else None
            place = self._best(self._mentions(text, boundaries), home)
            if place is None:
                place = self._home_reference(text, home)
            if place is not None:
                return self.gazetteer.region(place, "text")
        if author_location:
            place = self._best(self._mentions(author_location.strip(), None, location=True), home)
            if place is not None:
                return self.gazetteer.region(place, "author")
        return None

    def _home_reference(self, text: str, home: Sequence[str]) -> Place | None:
        """我市/本市/全市 in a text naming no place: local outlets mean the office's own city (or county)."""
        match = _HOME_REFERENCE.search(text)
        if match is None:
            return None
        level = CITY if match.group(1) == "市" else DISTRICT
        for code in home:
            place = self.gazetteer.places.get(code)
            if place is not None and place.level == level and place.indexed:
                return place
        return None

    # --- scanning --------------------------------------------------------
    def _mentions(self, text: str, boundaries: set[int] | None, location: bool = False) -> list[Mention]:
        mentions: list[Mention] = []
        i, n = 0, len(text)
        chained = -1     # end of the last accepted name: 广西南宁 is one jieba word holding two names
        while i < n:
            found = None
            for surface, entries in self.gazetteer.names_at(text, i):
                end = i + len(surface)
                full = any(f for _, f in entries)
                if self._accept(text, surface, i, end, full, boundaries, location, chained):
                    found = Mention(i, end, surface, _ordered_candidates(entries), full,
                                    township=self.gazetteer.is_township(surface))
                    break
            if found:
                mentions.append(found)
                if len(mentions) >= MAX_MENTIONS:
                    break
                i = chained = found.end
            else:
                i += 1
        return mentions

    def _accept(self, text: str, surface: str, start: int, end: int, full: bool, boundaries: set[int] | None,
                location: bool, chained: int = -1) -> bool:
        # 九江市路灯所 and 柴桑区小区 are places; 南京路 and 九江镇 (Foshan's town) are not.
        if not location and not (full and surface.endswith(ADMIN_SUFFIXES)):
            if _FALSE_FRIEND.match(text, end):
                return False
            if text.startswith(NAME_FALSE_FRIENDS.get(surface, ()), end):
                return False
        if boundaries is None:
            return True
        if start not in boundaries and start != chained:
            return False
        needs_end = not full or end - start < 3
        if not needs_end or end in boundaries:
            return True
        # Inside one jieba word: 上海南京路 (another name follows), 江西师范大学 (an institution follows).
        return (next(self.gazetteer.names_at(text, end), None) is not None
                or text.startswith(INSTITUTION_SUFFIXES, end))

    # --- resolution ------------------------------------------------------
    def _best(self, mentions: list[Mention], home: Sequence[str]) -> Place | None:
        mentions = self._resolve(mentions, home)
        if not mentions:
            return None
        by_province: dict[str, list[Mention]] = defaultdict(list)
        for m in mentions:
            by_province[m.place.province_code].append(m)

        def cluster_key(item: tuple[str, list[Mention]]):
            province, ms = item
            return (-len(ms), not _in_home(province, home), ms[0].start)

        _, cluster = min(by_province.items(), key=cluster_key)
        counts = Counter(m.place.code for m in cluster)

        def place_key(m: Mention):
            support = sum(1 for o in cluster if o.place.code != m.place.code
                          and self.gazetteer.contains(o.place, m.place))
            return (-m.place.level, -support, not _in_home(m.place.code, home), -counts[m.place.code], m.start)

        return min(cluster, key=place_key).place

    def _resolve(self, mentions: list[Mention], home: Sequence[str]) -> list[Mention]:
        """Pick one candidate per mention, using the other mentions as context.

        A township name shared by many counties (城关镇 ×88) is dropped unless the
        context or the home region picks one: guessing among them is noise.
        """
        kept = []
        for m in mentions:
            if len(m.candidates) == 1:
                m.place = m.candidates[0]
                kept.append(m)
                continue
            others = [c for o in mentions if o is not m for c in o.candidates]

            def support(c: Place, others=others) -> int:
                return sum(1 for o in others if self.gazetteer.contains(o, c) or self.gazetteer.contains(c, o))

            m.place = min(m.candidates, key=lambda c: (-support(c), not _in_home(c.code, home), c.level, c.code))
            if m.township and not support(m.place) and not _in_home(m.place.code, home):
                continue
            kept.append(m)
        return kept


def _ordered_candidates(entries: list[tuple[Place, bool]]) -> list[Place]:
    """Full-name matches beat short-name matches of the same string (吉林市 the city, not 吉林省)."""
    full = [p for p, f in entries if f]
    return full or [p for p, _ in entries]


def _in_home(code: str, home: Sequence[str]) -> bool:
    return any(code.startswith(h) or h.startswith(code) for h in home)


def _boundaries(text: str, words: Sequence[str]) -> set[int]:
    """Character offsets where a token starts or ends; tolerant of dropped whitespace tokens."""
    cuts = {0, len(text)}
    pos = 0
    for word in words:
        found = text.find(word, pos)
        if found < 0:
            continue
        cuts.add(found)
        pos = found + len(word)
        cuts.add(pos)
    return cuts


# --- building the gazetteer from the shared data ---------------------------------
ETHNIC_GROUPS = (
    "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白", "土家",
    "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇",
    "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米",
    "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔", "独龙",
    "鄂伦春", "赫哲", "门巴", "珞巴", "基诺", "各",
)
_ETHNIC_TAIL = re.compile("(?:" + "|".join(sorted(ETHNIC_GROUPS, key=len, reverse=True)) + ")族?$")
# Generic unit names that are ordinary words in running text.
GENERIC_NAMES = frozenset({"城区", "郊区", "矿区", "东区", "西区", "南区", "北区", "中区", "新区", "市辖区", "县",
                           "老城区"})
# Short names that are common words (checked on top of the jieba-dictionary test below).
DENIED_SHORT_NAMES = frozenset({
    "城关", "城中", "市中", "城东", "城西", "城南", "城北", "新华", "和平", "光明", "胜利", "红旗", "东风",
    "前进", "先锋", "工农", "向阳", "新城", "老城", "新建", "开发", "高新", "经开", "长寿", "安宁", "江山",
    "东方", "平安", "永和", "大方", "通道", "白云", "新兴", "文化", "建设", "友好", "团结", "民主", "太平",
    "阳光", "吉利", "合作", "平和", "富民", "惠民", "和顺", "安定", "大安", "乐业", "民乐", "中方", "永定",
    "河东", "河西", "桥东", "桥西", "铁东", "铁西", "新市", "海城", "山城", "石门", "龙门", "凤凰",
    # geographic features and everyday words that share a name with a district
    "江南", "江北", "南海", "东海", "太湖", "平原", "古城", "东湖", "南湖", "河口", "天桥", "牡丹", "滨海",
    "海港", "沙河", "西山", "新河", "路桥", "沿河", "大城", "商城", "故城", "天山", "中原", "东坡", "阿里",
    "白银", "资源", "比如", "南部", "公安", "合作", "延长", "温泉", "港口", "互助", "共和", "解放",
    "尼玛",   # Weibo slang
})
_COMMON_WORD_FREQ = 300


def _short_names(name: str, level: int) -> list[str]:
    """Safe short forms: 江西省→江西, 九江市→九江, 恩施土家族苗族自治州→恩施, 濂溪区→濂溪."""
    stem = name
    for suffix in ("特别行政区", "自治区", "自治州", "自治县", "地区", "林区", "特区", "省", "市", "区", "县", "盟"):
        if stem.endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
            break
    else:
        return []
    if suffix in ("自治区", "自治州", "自治县"):
        while True:
            shorter = _ETHNIC_TAIL.sub("", stem)
            if shorter == stem or len(shorter) < 2:
                break
            stem = shorter
    if stem == name or len(stem) < 2:
        return []
    if level > PROVINCE and len(stem) > 6:
        return []        # development zones etc.: only the full name is safe
    return [stem]


def _is_common_word(word: str, city_like: bool, jieba_dict: Mapping[str, tuple[int, str]]) -> bool:
    """Denied outright, or (for counties and districts) a frequent jieba word not tagged as a place.

    jieba's tags are unreliable for city names (合肥 is 'n', 保定 'v'), so cities and
    county-level cities are only checked against the deny list.
    """
    if word in DENIED_SHORT_NAMES:
        return True
    if city_like:
        return False
    freq, tag = jieba_dict.get(word, (0, "ns"))
    return not tag.startswith("ns") and freq >= _COMMON_WORD_FREQ


def _jieba_dictionary() -> dict[str, tuple[int, str]]:
    import jieba
    path = Path(jieba.__file__).resolve().parent / "dict.txt"
    entries = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3:
                entries[parts[0]] = (int(parts[1]), parts[2])
    return entries


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise DataNotFoundError(f"{path} not found; point --data at the shared data folder")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def build_gazetteer(admin_dir: str | Path, out_path: str | Path = DEFAULT_GAZETTEER) -> Gazetteer:
    """Derive the compact gazetteer from modood/Administrative-divisions-of-China CSVs."""
    admin_dir = Path(admin_dir)
    if not admin_dir.is_dir():
        raise DataNotFoundError(f"administrative divisions folder {admin_dir} not found; "
                                "pass --data pointing at the shared data folder")
    jieba_dict = _jieba_dictionary()
    places: list[Place] = []
    dropped: list[str] = []

    def shorts(name: str, level: int) -> tuple[str, ...]:
        kept = []
        city_like = level <= CITY or name.endswith("市")
        for s in _short_names(name, level):
            (dropped if _is_common_word(s, city_like, jieba_dict) else kept).append(s)
        return tuple(kept)

    provinces = {r["code"]: r["name"] for r in _read_csv(admin_dir / "provinces.csv")}
    for code, name in provinces.items():
        places.append(Place(code, PROVINCE, name, shorts(name, PROVINCE)))
    for code, name in (("71", "台湾省"), ("81", "香港特别行政区"), ("82", "澳门特别行政区")):
        places.append(Place(code, PROVINCE, name, shorts(name, PROVINCE)))

    for row in _read_csv(admin_dir / "cities.csv"):
        code, name, parent = row["code"], row["name"], row["provinceCode"]
        if name in ("市辖区", "县"):
            # Municipalities: the pseudo-city takes the municipality's name and is never matched.
            places.append(Place(code, CITY, provinces[parent], (), parent, indexed=False))
        elif name.endswith("直辖县级行政区划"):
            places.append(Place(code, CITY, name, (), parent, indexed=False, display=False))
        else:
            places.append(Place(code, CITY, name, shorts(name, CITY), parent))

    for row in _read_csv(admin_dir / "areas.csv"):
        code, name, parent = row["code"], row["name"], row["cityCode"]
        generic = name in GENERIC_NAMES
        banner = name.endswith("旗")
        places.append(Place(code, DISTRICT, name, () if generic or banner else shorts(name, DISTRICT),
                            parent, indexed=not generic))
    townships = _townships(admin_dir / "streets.csv", {p.code for p in places})
    gazetteer = Gazetteer(places, source=str(admin_dir), townships=townships)
    logger.debug("short names dropped as common words: %s", " ".join(dropped))
    header = ("Derived from modood/Administrative-divisions-of-China @57a0aa9 (WTFPL), 2023 divisions:\n"
              "provinces.csv, cities.csv, areas.csv; plus 71/81/82 for Taiwan, Hong Kong, Macau.\n"
              "Rebuild: yuqing nlp build-gazetteer --data ../shared/data\n"
              f"Short names that are common words were dropped: {len(dropped)}.")
    gazetteer.save(out_path, header)
    save_townships(townships, Path(out_path).with_name(DEFAULT_TOWNSHIPS.name))
    Gazetteer.default.cache_clear()
    logger.info("gazetteer built", extra={"places": len(places), "out": str(out_path)})
    return gazetteer


def _townships(streets_csv: Path, districts: set[str]) -> dict[str, list[str]]:
    """Township full names (街道/镇/乡/苏木) → the districts holding one of that name."""
    found: dict[str, list[str]] = defaultdict(list)
    for row in _read_csv(streets_csv):
        name, district = row["name"].strip(), row["areaCode"]
        if len(name) >= 3 and name.endswith(TOWNSHIP_SUFFIXES) and district in districts:
            if district not in found[name]:
                found[name].append(district)
    return dict(found)


def save_townships(townships: Mapping[str, Sequence[str]], path: str | Path) -> None:
    path = Path(path)
    lines = ["# Township names (街道/镇/乡/苏木) → district codes; from streets.csv of",
             "# modood/Administrative-divisions-of-China @57a0aa9 (WTFPL). Rebuild: yuqing nlp build-gazetteer",
             "name\tdistricts"]
    lines += [f"{name}\t{','.join(codes)}" for name, codes in sorted(townships.items())]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
