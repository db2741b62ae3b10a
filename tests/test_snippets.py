"""Snippets: stem-matched highlighting, trimming, escaping."""

from search.snippets import MAX_CHARS, snippet


def test_query_words_are_marked_by_stem():
    html = snippet("Азербайджан предлагает 100 стипендий студентам.", "стипендии")
    assert "<mark>стипендий</mark>" in html
    assert html.count("<mark>") == 1


def test_stop_words_are_not_marked():
    html = snippet("Порт в Баку и порт Чанкай", "в порт")
    assert html == "<mark>Порт</mark> в Баку и <mark>порт</mark> Чанкай"


def test_html_in_text_and_query_comes_back_inert():
    html = snippet('Текст <script>alert("x")</script> и <b>порт</b>', "<script>порт")
    assert "<script>" not in html and "<b>" not in html
    assert html == (
        "Текст &lt;<mark>script</mark>&gt;alert(&quot;x&quot;)&lt;/<mark>script</mark>&gt; "
        "и &lt;b&gt;<mark>порт</mark>&lt;/b&gt;"
    )


def test_long_paragraph_is_trimmed_to_the_window_with_the_matches():
    text = " ".join(["вода"] * 200) + " порт Чанкай открыт " + " ".join(["земля"] * 200)
    html = snippet(text, "Чанкай")
    assert html.startswith("…") and html.endswith("…")
    assert "<mark>Чанкай</mark>" in html
    assert len(html.replace("<mark>", "").replace("</mark>", "")) <= MAX_CHARS + 2


def test_long_paragraph_without_matches_shows_its_beginning():
    text = "Начало абзаца. " + "слово " * 200
    html = snippet(text, "English words")
    assert html.startswith("Начало абзаца.") and html.endswith("…")


def test_short_text_is_kept_whole():
    assert snippet("Короткий абзац.", "другое") == "Короткий абзац."
