"""Keywords: TF-IDF over our own jieba segmentation, governance terms and place names kept whole."""
from nlp.keywords import KeywordExtractor


def test_governance_terms_and_place_names_are_whole_keywords(segmenter):
    keywords = KeywordExtractor(segmenter).extract(
        "濂溪区化工园区夜间偷排废气，网格员上门走访，居民打12345热线反映，濂溪区环保督察组已介入", top_k=8)
    for term in ("濂溪区", "化工园区", "12345热线", "网格员"):
        assert term in keywords, keywords
    assert keywords[0] == "濂溪区"                    # mentioned twice, rare: ranks first


def test_stopwords_numbers_and_emoticons_are_not_keywords(segmenter):
    keywords = KeywordExtractor(segmenter).extract("我们的小区又停水了[怒][怒]！已经3次了，2024年也是这样", top_k=10)
    assert "停水" in keywords and "小区" in keywords
    for dropped in ("我们", "的", "了", "怒", "3", "2024", "！"):
        assert dropped not in keywords


def test_new_words_are_keywords(segmenter):
    keywords = KeywordExtractor(segmenter).extract("年轻人都在躺平，打工人太难了，接诉即办能不能快一点", top_k=8)
    assert {"躺平", "打工人", "接诉即办"} <= set(keywords)


def test_idf_of_unknown_words_is_the_median(segmenter):
    extractor = KeywordExtractor(segmenter)
    assert extractor.idf("一个从没见过的词xyz") == extractor.median_idf > 0
    assert extractor.idf("情况") < extractor.idf("死鱼")


def test_ordering_is_stable_and_top_k_respected(segmenter):
    extractor = KeywordExtractor(segmenter)
    text = "九江 濂溪区 停电 停水 小区 物业 投诉 电梯 故障 噪音"
    assert extractor.extract(text, top_k=3) == extractor.extract(text, top_k=10)[:3]
    assert extractor.extract("", top_k=5) == [] and extractor.extract("！！", top_k=5) == []


def test_sharing_boilerplate_is_not_a_keyword(segmenter):
    keywords = KeywordExtractor(segmenter).extract("转发微博 转发 网页链接 十里河死鱼 视频 全文", top_k=8)
    assert "死鱼" in keywords
    assert not {"转发", "转发微博", "网页链接", "视频", "全文"} & set(keywords)
