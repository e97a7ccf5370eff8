"""How search_memory results read aloud: dates keep their capitals."""

from __future__ import annotations

from datetime import UTC, datetime

from voice_letta.agent.memory_search import Hit, format_hits, when
from voice_letta.agent.models import Passage

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC).timestamp()


def test_an_old_date_keeps_its_weekday_and_month_capitalized() -> None:
    said = datetime(2026, 10, 22, 9, 0, tzinfo=UTC).timestamp()
    assert when(said, NOW) == "on Thursday, October 22, 2026"
    line = format_hits([Hit(1.0, passage=Passage(id="p", agent_id="a", text="user: I adopted a cat.",
                                                 start_at=said))], now=NOW)
    assert line.startswith("- On Thursday, October 22, 2026: ")


def test_recent_dates_are_sentence_cased() -> None:
    said = NOW - 3 * 86400
    line = format_hits([Hit(1.0, passage=Passage(id="p", agent_id="a", text="x", start_at=said))], now=NOW)
    assert line.startswith("- 3 days ago (Monday, November 23): ")


def test_no_match_defers_to_the_conversation_in_view() -> None:
    """search_memory searches memory and lines out of view only. A model that called it for a fact said a minute
    ago (in view) was told "No memories matched. Tell the user you don't remember that" (QA, session 5, an
    Anthropic agent asked "Do you remember where my sister lives?" right after hearing it)."""
    for text in (format_hits([], now=NOW),
                 format_hits([Hit(0.1, passage=Passage(id="p", agent_id="a", text="x", start_at=NOW),
                                  confidence=0.2)], now=NOW)):
        assert "Unless the conversation you can see answers it" in text.replace("unless", "Unless"), text
        assert "don't remember" in text
