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
