"""Per-language text rules: words of transcripts and corpora, custom words kept whole, sounds_like rules."""

from __future__ import annotations

from parlance.customization.languages import (
    corpus_sentences,
    japanese_words,
    kana_spellings,
    korean_words,
    portuguese_words,
    rules_for,
    sounds_like_errors,
)
from parlance.engines.whisper.bias import user_rules
from parlance.engines.whisper.rewriter import Rewriter


def test_japanese_is_cut_into_morphemes_without_punctuation() -> None:
    assert japanese_words("今日は良い天気ですね。") == ["今日", "は", "良い", "天気", "です", "ね"]


def test_japanese_corpus_words_are_counted_without_spaces() -> None:
    # with no spaces, a whitespace count would see one word per line
    sentences = corpus_sentences("原稿の校正は明日までです。誤植を直します。\n稟議を通します。", "ja-JP")
    assert sentences == [
        ["原稿", "の", "校正", "は", "明日", "まで", "です"],
        ["誤植", "を", "直し", "ます"],
        ["稟議", "を", "通し", "ます"],
    ]


def test_keep_holds_custom_words_whole_whatever_the_context() -> None:
    # MeCab cuts "ミライズ" in two inside this sentence; a custom word must stay one word
    assert "ミライズ" not in japanese_words("アプリはミライズという名前です")
    assert "ミライズ" in japanese_words("アプリはミライズという名前です", keep=frozenset({"ミライズ"}))


def test_japanese_custom_word_rewrites_a_katakana_reading() -> None:
    rules = rules_for("ja-JP")
    _, found = user_rules([{"word": "稟議", "sounds_like": ["りんぎ"]}], rules)
    rewriter = Rewriter(found)
    words = rules.words("社内リンギを通す", keep=rewriter.single_words)
    assert rewriter.apply(words) == ["社内", "稟議", "を", "通す"]


def test_kana_spellings_cover_both_scripts() -> None:
    assert kana_spellings("りんぎ") == ["りんぎ", "リンギ"]
    assert kana_spellings("ミライズ") == ["ミライズ", "みらいず"]


def test_portuguese_words_keep_hyphens_and_spell_numbers() -> None:
    assert portuguese_words("Leve o guarda-chuva, são 23 reais e 5% de taxa!") == [
        "leve", "o", "guarda-chuva", "são", "vinte", "e", "três", "reais", "e", "cinco", "por", "cento", "de", "taxa",
    ]  # fmt: skip


def test_korean_words_are_eojeol_and_numerals_stay_as_written() -> None:
    # "3개" is read "세 개" (native numeral), "3층" "삼 층" (Sino-Korean): the counter decides
    assert korean_words("사과 3개를 샀습니다. 3층입니다!") == ["사과", "3개를", "샀습니다", "3층입니다"]


def test_english_keeps_its_previous_generation_corpus_rules() -> None:
    assert corpus_sentences("We paid $75.", "en-US") == [["we", "paid", "seventy", "five", "dollars"]]


def test_sounds_like_rules_per_language() -> None:
    assert sounds_like_errors(["りんぎ", "リンギ", "ミライズ"], "ja-JP") == []
    assert sounds_like_errors(["rin gi"], "ja-JP")  # a Japanese reading is written in kana
    assert sounds_like_errors(["あ" * 26], "ja-JP")  # at most 25 characters
    assert sounds_like_errors(["수이레이"], "ko-KR") == []
    assert sounds_like_errors(["suirei"], "ko-KR")
    assert sounds_like_errors(["suirei"], "pt-BR") == []  # Portuguese follows the common rules only
