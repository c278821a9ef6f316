"""``review.docs_url``: where the rule pages are published, and how rule links are made.

A rule names its page as a repository path (``url: docs/rules/ID.md``), which means
nothing outside this checkout; every format and platform gets an absolute link instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.models import DEFAULT_DOCS_URL, ConfigError, ReviewConfig, load_config


def config_of(tmp_path: Path, review: str):
    path = tmp_path / "review-bot.yaml"
    path.write_text(f"review:\n{review}")
    return load_config(path, secrets=False)


def test_the_default_is_the_published_rule_pages() -> None:
    assert DEFAULT_DOCS_URL == "https://github.com/review-bot/review-bot/blob/main/docs/rules/"
    assert ReviewConfig().docs_url == DEFAULT_DOCS_URL
    assert load_config(None).review.docs_url == DEFAULT_DOCS_URL


def test_docs_url_is_a_base_that_ends_in_a_slash(tmp_path: Path) -> None:
    config = config_of(tmp_path, "  docs_url: https://docs.example.org/rb/rules\n")
    assert config.review.docs_url == "https://docs.example.org/rb/rules/"
    assert config_of(tmp_path, "  docs_url: null\n").review.docs_url is None


def test_docs_url_must_be_http(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"review-bot.yaml:2: review\.docs_url: .*http"):
        config_of(tmp_path, "  docs_url: docs/rules/\n")


def test_rule_docs_url_is_a_deprecated_alias_keeping_its_links(tmp_path: Path) -> None:
    # rule_docs_url named the repository's base, docs/rules/ went under it: same links.
    config = config_of(tmp_path, "  rule_docs_url: https://example.org/rb/\n")
    assert config.review.docs_url == "https://example.org/rb/docs/rules/"
    assert "rule_docs_url" not in ReviewConfig.model_fields


def test_rule_docs_url_with_docs_url_is_refused_naming_the_new_key(tmp_path: Path) -> None:
    both = "  docs_url: https://a.example/\n  rule_docs_url: https://b.example/\n"
    with pytest.raises(ConfigError, match=r"review: .*rule_docs_url.*review\.docs_url"):
        config_of(tmp_path, both)
    with pytest.raises(ConfigError, match=r"rule_docs_url must be an http"):
        config_of(tmp_path, "  rule_docs_url: example.org\n")


def test_a_project_override_of_the_old_key_overrides_docs_url(tmp_path: Path) -> None:
    path = tmp_path / "review-bot.yaml"
    path.write_text(
        "projects:\n  - match: 'org/*'\n    review: {rule_docs_url: 'https://o.example/'}\n"
    )
    config = load_config(path, secrets=False)
    assert config.for_project("github", "org/x").review.docs_url == (
        "https://o.example/docs/rules/"
    )
    assert config.for_project("github", "else/x").review.docs_url == DEFAULT_DOCS_URL
