import threading

import jieba
import pytest

from nlp.errors import ResourceError
from nlp.segment import Segmenter, read_user_dict


@pytest.mark.parametrize("word", ["网格员", "12345热线", "信访", "城管", "化工园区", "情况通报", "环保督察", "物业费", "学区房"])
def test_governance_words_stay_whole(segmenter, word):
    assert word in segmenter.cut(f"市民反映{word}的问题，希望尽快解决")


def test_place_names_from_gazetteer_stay_whole(segmenter):
    # plain jieba cuts 濂溪区 into 濂 / 溪区
    assert "濂溪区" in segmenter.cut("九江市濂溪区发生火灾")


def test_tokens_drop_stopwords_punctuation_and_numbers(segmenter):
    tokens = segmenter.tokens("我们的小区今天又停水了！！！已经3次了，物业费白交了。")
    assert "小区" in tokens and "停水" in tokens and "物业费" in tokens
    for dropped in ("我们", "的", "了", "！", "，", "。", "3"):
        assert dropped not in tokens


def test_cut_drops_whitespace_and_handles_empty(segmenter):
    assert segmenter.cut("") == []
    assert all(not t.isspace() for t in segmenter.cut("城管  执法\n\t文明"))


def test_private_tokenizer_leaves_global_jieba_alone(segmenter):
    segmenter.cut("网格员")
    assert segmenter.tokenizer is not jieba.dt
    assert "网格员" not in jieba.dt.FREQ


def test_extra_user_dict_from_config(tmp_path):
    extra = tmp_path / "local.txt"
    extra.write_text("# local terms\n琵琶亭街道 n\n甘棠湖 100 ns\n", encoding="utf-8")
    seg = Segmenter([extra], place_names=False)
    assert "琵琶亭街道" in seg.cut("琵琶亭街道今天发布通知")
    assert "甘棠湖" in seg.cut("甘棠湖边散步")


def test_malformed_user_dict_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("好词 n\n坏 词 多 余\n", encoding="utf-8")
    with pytest.raises(ResourceError, match=r"bad.txt:2"):
        read_user_dict(bad)


def test_gbk_user_dict_is_a_clear_error(tmp_path):
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("网格员 n\n".encode("gbk"))
    with pytest.raises(ResourceError, match="not UTF-8"):
        Segmenter([gbk])


def test_missing_user_dict_fails_at_construction(tmp_path):
    with pytest.raises(ResourceError, match="cannot read"):
        Segmenter([tmp_path / "nope.txt"])


def test_lazy_init_is_thread_safe():
    builds = []

    class CountingSegmenter(Segmenter):
        def _build(self):
            builds.append(1)
            return super()._build()

    seg = CountingSegmenter(place_names=False)
    results = []
    threads = [threading.Thread(target=lambda: results.append(seg.cut("网格员走访小区"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1
    assert all(r == results[0] for r in results) and "网格员" in results[0]


@pytest.mark.parametrize("word", ["打工人", "躺平", "接诉即办", "一网通办", "直播带货", "吃瓜群众", "不作为", "网约配送员", "保交楼"])
def test_new_words_stay_whole(segmenter, word):
    assert word in segmenter.cut(f"大家都说{word}了，怎么看")


def test_emoticon_codes_are_not_tokens(segmenter):
    tokens = segmenter.tokens("小吃又便宜又好吃[馋嘴][赞]，停车太难了[怒]")
    assert "好吃" in tokens and "停车" in tokens
    assert not {"馋嘴", "赞", "怒", "[", "]"} & set(tokens)


def test_new_words_file_is_shipped_and_well_formed():
    from nlp.segment import DEFAULT_NEW_WORDS
    words = read_user_dict(DEFAULT_NEW_WORDS)
    assert len(words) >= 50 and all(len(w.word) >= 2 for w in words)
