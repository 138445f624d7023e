import pytest

from nlp.regions import Gazetteer, RegionExtractor, build_gazetteer


@pytest.fixture(scope="module")
def extractor(segmenter):
    return RegionExtractor.default(home=["3604"], segmenter=segmenter)


def test_district_implies_city_and_province(extractor):
    r = extractor.extract("濂溪区一小区昨夜停电")
    assert (r.province, r.city, r.district) == ("江西省", "九江市", "濂溪区")
    assert (r.province_code, r.city_code, r.district_code) == ("36", "3604", "360402")
    assert r.source == "text" and r.code == "360402"


def test_full_city_and_district(extractor):
    r = extractor.extract("九江市浔阳区网格员上门走访")
    assert r.district == "浔阳区" and r.city == "九江市"


def test_short_names(extractor):
    assert extractor.extract("九江今天下大雨").city_code == "3604"
    assert extractor.extract("濂溪这边的路灯坏了").district_code == "360402"


def test_ambiguous_district_resolved_by_province(extractor):
    r = extractor.extract("北京朝阳区群众举报")
    assert (r.province, r.district_code) == ("北京市", "110105")
    assert r.city == "北京市"


def test_city_with_province_context(extractor):
    r = extractor.extract("辽宁朝阳市下了一场大雪")
    assert (r.province, r.city, r.city_code, r.district) == ("辽宁省", "朝阳市", "2113", None)


def test_ambiguous_without_context_uses_first_then_home(segmenter):
    plain = RegionExtractor.default(segmenter=segmenter)
    assert plain.extract("朝阳区一小区停水").district_code == "110105"   # Beijing before Changchun
    # 鼓楼区 exists in four cities; the home region decides when the text does not.
    assert plain.extract("鼓楼区发布通知", home=["3201"]).district_code.startswith("3201")
    assert plain.extract("鼓楼区发布通知", home=["3501"]).district_code.startswith("3501")


def test_two_cities_of_one_province_prefer_home(extractor, segmenter):
    assert extractor.extract("南昌到九江的高铁今天开通").city == "九江市"          # home 3604
    assert RegionExtractor.default(segmenter=segmenter).extract("南昌到九江的高铁今天开通").city == "南昌市"


def test_province_mentioned_most_wins(extractor):
    r = extractor.extract("江西九江濂溪区的网友说，北京的朋友也关注了此事")
    assert r.district == "濂溪区"


@pytest.mark.parametrize("text", ["我在南京路上走", "中山路拥堵严重", "人民路施工", "孙中山先生诞辰纪念"])
def test_streets_and_names_are_not_places(extractor, text):
    assert extractor.extract(text) is None


def test_street_named_after_city_keeps_the_real_place(extractor):
    r = extractor.extract("上海南京路步行街人很多")
    assert r is not None and r.province == "上海市"


def test_author_location_fallback(extractor):
    r = extractor.extract("今天天气不错", author_location="江西 九江")
    assert (r.province, r.city, r.source) == ("江西省", "九江市", "author")
    assert extractor.extract("今天天气不错", author_location="北京").province_code == "11"
    assert extractor.extract("今天天气不错", author_location="辽宁 朝阳").city_code == "2113"
    assert extractor.extract("今天天气不错", author_location="海外 美国") is None


def test_text_beats_author_location(extractor):
    r = extractor.extract("濂溪区发生火灾", author_location="北京")
    assert r.source == "text" and r.district_code == "360402"


def test_no_place(extractor):
    assert extractor.extract("今天吃了火锅，好开心") is None
    assert extractor.extract("") is None


def test_works_without_segmenter_on_location_strings():
    r = RegionExtractor(Gazetteer.default()).extract("", author_location="湖北 仙桃")
    assert r.district == "仙桃市" and r.province == "湖北省" and r.city is None


@pytest.mark.shared_data
def test_gazetteer_rebuild_matches_shipped(shared_data, tmp_path):
    built = build_gazetteer(shared_data / "admin_divisions", tmp_path / "gazetteer.tsv")
    shipped = Gazetteer.default()
    assert len(built) == len(shipped) > 3000
    assert Gazetteer.load(tmp_path / "gazetteer.tsv").lookup("濂溪区")[0].code == "360402"
    from nlp.regions import DEFAULT_TOWNSHIPS
    assert (tmp_path / "townships.tsv").read_text(encoding="utf-8") == DEFAULT_TOWNSHIPS.read_text(encoding="utf-8")


# --- hand-written cases: (text, expected code or None); home region unset unless noted -----------
PLACE_CASES = [
    # 朝阳: Beijing's district, Changchun's district, Liaoning's city
    ("北京朝阳区一小区停电", "110105"),
    ("长春朝阳区发布通知", "220104"),
    ("辽宁朝阳下雪了", "2113"),
    ("朝阳市政府召开会议", "2113"),
    # district names shared across provinces, resolved by the city or province named with them
    ("上海宝山区地铁延误", "310113"),
    ("双鸭山宝山区供暖", "230506"),
    ("广州白云区城中村改造", "440111"),
    ("贵阳白云区道路施工", "520113"),
    ("海口龙华区暴雨", "460106"),
    ("深圳龙华区招聘", "440309"),
    ("南通通州区发布公告", "320612"),
    ("北京通州副中心", "110112"),
    ("福建省福州市鼓楼区", "350102"),
    ("徐州鼓楼区政务服务", "320302"),
    ("开封市鼓楼区", "410204"),
    ("西安长安区大学城", "610116"),
    ("石家庄长安区", "130102"),
    ("张家界永定区", "430802"),
    ("龙岩永定区土楼", "350803"),
    ("天津和平区", "120101"),
    ("沈阳和平区", "210102"),
    ("武汉青山区", "420107"),
    ("包头青山区", "150204"),
    ("兰州城关区", "620102"),
    ("拉萨城关区", "540102"),
    ("宁波江北区", "330205"),
    ("重庆江北区", "500105"),
    ("杭州西湖景区", "330106"),
    ("江西省南昌市西湖区", "360103"),
    # a county-level name that is also a city's name
    ("长沙县星沙街道", "430121"),
    ("南昌县莲塘镇", "360121"),
    ("吉林市发布通知", "2202"),
    ("吉林省长春市", "2201"),
    # province + city written as one jieba word
    ("广西南宁", "4501"),
    ("新疆乌鲁木齐", "6501"),
    ("湖北恩施", "4228"),
    # institutions named after their place, one jieba word each
    ("江西师范大学的学生说", "36"),
    ("北京大学开学了", "11"),
    ("吉林大学新生报到", "22"),
    ("南昌大学第一附属医院", "3601"),
    ("九江学院图书馆", "3604"),
    ("香港中文大学", "81"),
    # demonyms and home-county talk
    ("我是九江人", "3604"),
    ("南京市民反映", "3201"),
    ("都昌的候鸟季开始了", "360428"),
    ("瑞昌的生育津贴怎么申请", "360481"),
    ("共青城今年新开一所学校", "360482"),
    # former names (region_aliases.tsv)
    ("九江县城区停水", "360404"),
    ("星子县温泉", "360483"),
    ("家住宣武区的老人", "110102"),
    ("襄樊市政府", "4206"),
]

NOT_PLACES = [
    "我在南京路上走", "北京西路拥堵", "江西中路施工", "中山北路", "人民路", "长安街上", "湖南路",
    "孙中山先生诞辰纪念", "中山大学附属医院的医生", "北京时间八点整", "兰州拉面", "沙县小吃",
    "北京烤鸭", "我和县长说", "美国纽约", "日本东京", "我国", "全国各地", "鄱阳湖边", "城关镇",
]


@pytest.mark.parametrize("text,code", PLACE_CASES)
def test_hand_written_places(segmenter, text, code):
    region = RegionExtractor.default(segmenter=segmenter).extract(text)
    assert region is not None and region.code == code, (text, region)
    assert region.source == "text"


@pytest.mark.parametrize("text", NOT_PLACES)
def test_hand_written_non_places(segmenter, text):
    assert RegionExtractor.default(segmenter=segmenter).extract(text) is None


def test_parents_follow_the_code(segmenter):
    r = RegionExtractor.default(segmenter=segmenter).extract("双鸭山宝山区供暖")
    assert (r.province, r.city, r.district) == ("黑龙江省", "双鸭山市", "宝山区")
    r = RegionExtractor.default(segmenter=segmenter).extract("家住宣武区的老人")
    assert (r.province, r.city, r.district) == ("北京市", "北京市", "西城区")


@pytest.mark.parametrize("location,code", [
    ("北京 朝阳区", "110105"), ("吉林 长春", "2201"), ("广东 深圳", "4403"), ("江西", "36"),
    ("北京 宣武区", "110102"), ("上海 闸北区", "310106"), ("湖北 襄樊", "4206"),
    ("江西省九江市", "3604"), ("南京路", "3201"),   # a profile names a place; no street in a profile
])
def test_author_locations(extractor, location, code):
    region = extractor.extract("", author_location=location)
    assert region is not None and region.code == code and region.source == "author"


@pytest.mark.parametrize("location", ["其他", "海外 美国", "火星", "   ", "保密"])
def test_author_locations_without_a_place(extractor, location):
    assert extractor.extract("今天心情不错", author_location=location) is None


def test_home_region_breaks_ties_between_duplicate_districts(segmenter):
    plain = RegionExtractor.default(segmenter=segmenter)
    assert plain.extract("西湖区发布通知").district_code == "330106"                # Hangzhou: lowest code
    assert plain.extract("西湖区发布通知", home=["36"]).district_code == "360103"    # an office in Jiangxi


def test_aliases_file_errors_are_clear(tmp_path):
    from nlp.errors import ResourceError
    from nlp.regions import DEFAULT_GAZETTEER, load_aliases
    bad = tmp_path / "aliases.tsv"
    bad.write_text("alias\tcode\tnote\n九江县\t360404\tok\n星子县 360483\n", encoding="utf-8")
    with pytest.raises(ResourceError, match=r"aliases.tsv:3"):
        load_aliases(bad)
    unknown = tmp_path / "unknown.tsv"
    unknown.write_text("某某县\t999999\n", encoding="utf-8")
    with pytest.raises(ResourceError, match="unknown code 999999"):
        Gazetteer.load(DEFAULT_GAZETTEER, unknown)


def test_current_names_win_over_aliases(tmp_path):
    from nlp.regions import DEFAULT_GAZETTEER
    aliases = tmp_path / "aliases.tsv"
    aliases.write_text("九江市\t3601\n老九江\t3604\n", encoding="utf-8")
    g = Gazetteer.load(DEFAULT_GAZETTEER, aliases)
    assert [p.code for p in g.lookup("九江市")] == ["3604"]
    assert [p.code for p in g.lookup("老九江")] == ["3604"]


# --- townships and "our city" ----------------------------------------------------------------------
def test_township_names_point_to_their_district(extractor):
    assert extractor.extract("五里街道老旧小区改造工程拖延半年").district_code == "360402"
    assert extractor.extract("我们浔阳区白水湖街道的小区加装电梯").district_code == "360403"   # not 白水县
    r = extractor.extract("姑塘镇一养殖场污水直排")
    assert (r.province, r.city, r.district, r.source) == ("江西省", "九江市", "濂溪区", "text")


def test_ambiguous_township_needs_context_or_home(segmenter):
    plain = RegionExtractor.default(segmenter=segmenter)
    assert plain.extract("城关镇的集市今天很热闹") is None                       # 88 counties have one
    assert plain.extract("五河县城关镇的集市").district_code == "340322"           # the county named with it
    assert plain.extract("城关镇的集市今天很热闹", home=["3403"]).district_code == "340322"   # the office's city


def test_our_city_means_the_home_city(segmenter, extractor):
    assert extractor.extract("我市发布寒潮蓝色预警").city_code == "3604"
    assert extractor.extract("全市中小学生运动会开幕").city_code == "3604"
    assert RegionExtractor.default(segmenter=segmenter).extract("我市发布寒潮蓝色预警") is None
    assert extractor.extract("北京市今冬供暖季启动，全市集中供暖").province_code == "11"   # a named place wins
    county = RegionExtractor.default(home=["360423"], segmenter=segmenter)
    assert county.extract("全县秋粮收购启动").district_code == "360423"
    assert extractor.extract("全县秋粮收购启动") is None                     # a city office has no home county


def test_townships_file_errors_are_clear(tmp_path):
    from nlp.errors import ResourceError
    from nlp.regions import load_townships
    bad = tmp_path / "townships.tsv"
    bad.write_text("name\tdistricts\n十里街道\t360402\n坏行\n", encoding="utf-8")
    with pytest.raises(ResourceError, match=r"townships.tsv:3"):
        load_townships(bad)
