"""eval/build_news.py: WMT parsing, paragraph layout, queries and splits on a tiny WMT file.

The generated file imitates newstest2021.ru-en.xml: <doc origlang id> holding a Russian
<src> and two English <ref> translations aligned by <seg id>, plus a test-suite document
that is not news. One test reads the real shared file when it is there.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from eval import build_news as bn
from tests.conftest import ROOT

REAL = ROOT / bn.DEFAULT_SOURCE

# (id, [(Russian, English A, English B), ...]); segment 1 is the headline.
# fmt: off
DOCS = [
    ("kp.1", [
        ("Губернатор Дегтярев посетил Хабаровск с рабочим визитом",
         "Governor Degtyarev visited Khabarovsk on a working visit",
         "Degtyarev, the governor, paid a working visit to Khabarovsk"),
        ("Врио губернатора Михаил Дегтярев прибыл в Хабаровск во вторник утром.",
         "Acting governor Mikhail Degtyarev arrived in Khabarovsk on Tuesday morning.",
         "Mikhail Degtyarev, the acting governor, came to Khabarovsk on Tuesday morning."),
        ("Он встретился с жителями города на главной площади.",
         "He met the residents of the city on the main square.",
         "He held a meeting with city residents on the central square."),
        ("Митинги в поддержку Сергея Фургала продолжаются третью неделю подряд.",
         "Rallies in support of Sergei Furgal continue for the third week in a row.",
         "Protests supporting Sergei Furgal have gone on for three weeks running."),
        ("Дегтярев пообещал открытый суд.",
         "Degtyarev promised a trial.",
         "Degtyarev pledged to hold a public trial."),
        ("Полный текст интервью опубликован на сайте газеты.",
         "The full text of the interview is published on the newspaper website.",
         "The complete interview is available on the newspaper's site."),
    ]),
    ("lenta.ru.4", [
        ("В Мексике объявили тревогу из-за урагана Ханна",
         "Mexico raised an alarm because of Hurricane Hanna",
         "An alert was declared in Mexico due to Hurricane Hanna"),
        ("Гражданская оборона объявила оранжевый уровень опасности в штате Тамаулипас.",
         "Mexican civil defence declared an orange danger level in the state of Tamaulipas.",
         "Mexico's civil defence announced an orange hazard level in Tamaulipas state."),
        ("Ураган Ханна обрушился на побережье Мексиканского залива в субботу.",
         "Hurricane Hanna hit the coast of the Gulf of Mexico on Saturday.",
         "On Saturday Hurricane Hanna struck the Gulf of Mexico coastline."),
        ("Жителей прибрежных районов эвакуировали.",
         "Residents of coastal areas were evacuated.",
         "People living in coastal districts were evacuated."),
    ]),
    ("rg.ru.5", [
        ("Банк России снова снизил ключевую ставку до рекордного минимума",
         "The Bank of Russia again cut the key rate to a record low",
         "The Central Bank of Russia lowered its key rate to a record low once more"),
        ("Совет директоров Центробанка снизил ключевую ставку на четверть процентного пункта.",
         "The Central Bank board of directors cut the key rate by a quarter of a percentage point.",
         "The board of the Central Bank reduced the key rate by a quarter point."),
        ("Аналитики Сбербанка ожидают дальнейшего снижения ставки осенью.",
         "Sberbank analysts expect the rate to be cut further in the autumn.",
         "Analysts at Sberbank expect further rate cuts in the fall."),
    ]),
    ("tsuite-tedtalks-enru-rev-enru-talk-1", [
        ("Вам всем хорошо известна истина, о которой пойдёт речь сегодня.",
         "You all know the truth I will talk about today.",
         "You all know well the truth that I will speak about today."),
        ("Я думаю, мысль о неравенстве витала в воздухе.",
         "I think the idea of inequality was in the air.",
         "I believe the thought of inequality was floating around."),
    ]),
]
# fmt: on


def side(tag: str, attrs: str, segments: list[str]) -> str:
    """One <src> or <ref> element's XML, its segments numbered from 1."""
    segs = "".join(f'<seg id="{n}">{escape(text)}</seg>' for n, text in enumerate(segments, 1))
    return f"<{tag} {attrs}><p>{segs}</p></{tag}>"


def wmt_xml(docs: list[tuple[str, list[tuple[str, str, str]]]]) -> str:
    """A WMT test-set file with these documents."""
    body = ""
    for doc_id, rows in docs:
        ru, a, b = (list(column) for column in zip(*rows))
        body += (f'<doc origlang="ru" id="{doc_id}">' + side("src", 'lang="ru"', ru)
                 + side("ref", 'lang="en" translator="A"', a)
                 + side("ref", 'lang="en" translator="B"', b) + "</doc>")  # fmt: skip
    return f"<?xml version='1.0' encoding='utf-8'?>\n<dataset id=\"newstest2021\">{body}</dataset>"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "newstest2021.ru-en.xml"
    path.write_text(wmt_xml(DOCS), encoding="utf-8")
    return path


@pytest.fixture
def built(source: Path, tmp_path: Path) -> tuple[dict, list[dict], Path]:
    """(counts, queries, out folder) of a build from the tiny file."""
    out = tmp_path / "news"
    summary = bn.run(source, out)
    queries = [json.loads(line) for line in (out / bn.QUERIES_FILE).read_text("utf-8").splitlines()]
    return summary, queries, out


def test_stories_skip_test_suites_and_align_translations(source: Path) -> None:
    stories = bn.read_stories(source)
    assert [s.id for s in stories] == ["kp.1", "lenta.ru.4", "rg.ru.5"]
    assert [s.outlet for s in stories] == ["kp", "lenta.ru", "rg.ru"]
    assert stories[1].en_b[3] == "People living in coastal districts were evacuated."


def test_layout_sets_the_lead_alone_then_up_to_three_sentences() -> None:
    segments = ["Заголовок новости", *(f"Предложение номер {n}." for n in range(1, 9))]
    assert bn.layout(segments) == [[1], [2, 3, 4], [5, 6, 7], [8]]
    long = "слово " * bn.PARAGRAPH_WORDS
    assert bn.layout(["Заголовок", "Лид.", long, "Ещё.", "И ещё."]) == [[1], [2], [3, 4]]


def test_a_long_first_segment_is_a_lead_not_a_headline() -> None:
    lead = "Очень длинное первое предложение " * 6
    story = bn.Story("bbc.1", "bbc", (lead, "Второе предложение."), ("",) * 2, ("",) * 2)
    assert bn.layout(story.ru) == [[0], [1]]
    assert "title" not in bn.article_record(story)


def test_corpus_has_headline_titles_outlets_and_poisk_paragraphs(built) -> None:
    _, _, out = built
    records = [json.loads(line) for line in (out / bn.CORPUS_FILE).read_text("utf-8").splitlines()]
    assert records[0]["title"] == "Губернатор Дегтярев посетил Хабаровск с рабочим визитом"
    assert records[0]["source"] == "kp" and "Губернатор" not in records[0]["text"]
    paragraphs = bn.poisk_paragraphs(out / bn.CORPUS_FILE)
    assert [len(texts) for texts in paragraphs.values()] == [3, 2, 2]
    assert paragraphs["kp.1"][0].startswith("Врио губернатора")


def test_every_relevant_id_is_a_paragraph_poisk_makes_and_holds_the_segment(built) -> None:
    _, queries, out = built
    paragraphs = bn.poisk_paragraphs(out / bn.CORPUS_FILE)
    english = {a: ru for _, rows in DOCS for ru, a, _ in rows}
    for q in queries:
        (item,) = q["relevant"]
        article, _, n = item.partition(":")
        assert article in paragraphs
        if n:
            assert int(n) < len(paragraphs[article])
        if q["kind"] == "en-sentence":
            assert english[q["query"]] in paragraphs[article][int(n)]


def test_every_kind_is_produced_and_headlines_point_at_the_article(built) -> None:
    summary, queries, _ = built
    assert {q["kind"] for q in queries} == set(bn.KINDS)
    assert summary["articles"] == 3 and summary["paragraphs"] == 7
    headline = next(q for q in queries if q["kind"] == "en-headline")
    assert headline == {"query": "Governor Degtyarev visited Khabarovsk on a working visit",
                        "lang": "en", "kind": "en-headline", "source": "headline A",
                        "split": "tune", "relevant": ["kp.1"]}  # fmt: skip
    assert not any("неравенстве" in q["query"] or "inequality" in q["query"] for q in queries)


def test_keywords_prefer_names_and_rare_words() -> None:
    sentence = "Вчера Дегтярев посетил большой город и встретился с жителями."
    df = bn.document_frequency([[sentence], ["Город посетил большой дом"], ["город большой"]])
    assert bn.keywords([sentence], df) == "Дегтярев встретился жителями"  # longer of df 1
    assert bn.keywords(["Он и она."], df) is None


def test_reword_drops_stop_words_and_a_third_then_swaps_halves() -> None:
    assert bn.reword("Мэр и губернатор обсудили новый мост через реку Амур.") == (
        "новый мост Амур Мэр губернатор"  # "через" is a stop word
    )


def test_short_sentences_are_skipped_and_repeats_kept_once(built) -> None:
    _, queries, _ = built
    texts = [q["query"].casefold() for q in queries]
    assert len(texts) == len(set(texts))
    sentences = [q for q in queries if q["kind"].startswith("en-sentence")]
    assert all(len(q["query"].split()) >= bn.MIN_WORDS for q in sentences)
    assert "Degtyarev promised a trial." not in [q["query"] for q in sentences]
    same = [bn.query("Один и тот же текст", "ru", "ru-keywords", "p", "a:0", "a")] * 2
    other = bn.query("один и тот же ТЕКСТ", "ru", "ru-keywords", "p", "b:0", "b")
    assert len(bn.deduplicate(same)) == 1 and bn.deduplicate([*same, other]) == []


def test_splits_follow_the_story(built) -> None:
    _, queries, _ = built
    by_story: dict[str, set[str]] = {}
    for q in queries:
        by_story.setdefault(q["relevant"][0].split(":")[0], set()).add(q["split"])
    assert by_story == {"kp.1": {"tune"}, "lenta.ru.4": {"test"}, "rg.ru.5": {"test"}}


def test_the_build_is_deterministic(source: Path, tmp_path: Path, built) -> None:
    _, _, out = built
    again = tmp_path / "again"
    bn.run(source, again)
    for name in (bn.CORPUS_FILE, bn.QUERIES_FILE):
        assert (again / name).read_bytes() == (out / name).read_bytes()


@pytest.mark.skipif(not REAL.is_file(), reason=f"no shared WMT file at {REAL}")
def test_the_real_file_gives_a_sane_set(tmp_path: Path) -> None:
    summary = bn.run(REAL, tmp_path / "news")
    assert summary["articles"] == 107 and 300 <= summary["paragraphs"] <= 600
    per_kind = summary["queries"]
    for kind, splits in per_kind.items():
        total = splits["tune"] + splits["test"]
        assert total >= (90 if kind == "en-headline" else 300), kind
        assert 0.3 <= splits["tune"] / total <= 0.7, kind
