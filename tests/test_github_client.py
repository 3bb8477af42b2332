"""The GitHub client against the loopback stand-in: auth, pagination, retries, error messages."""

from __future__ import annotations

import time

import pytest
from github_stub import TOKEN, GitHubStub, github_fixture  # noqa: F401  (the `github` fixture)

from restore_gate.github import GitHub, GitHubError, Repo, identities
from restore_gate.github.client import rate_limit_wait


def repo(stub: GitHubStub, token: str | None = TOKEN) -> Repo:
    return Repo(GitHub(token, stub.base_url), stub.repo)


def test_pagination_follows_link_headers_with_100_per_page(github):
    github.add_pull(3)
    for i in range(230):
        github.add_comment(3, f"comment {i}")
    bodies = [c["body"] for c in repo(github).comments(3)]
    assert bodies == [f"comment {i}" for i in range(230)]
    pages = github.calls("GET", "/comments$")
    assert len(pages) == 3
    assert pages[0].query == {"per_page": "100"}
    assert all(p.query["per_page"] == "100" for p in pages)


def test_enterprise_base_url_with_a_path_prefix(monkeypatch):
    with GitHubStub(prefix="/api/v3") as stub:
        stub.add_pull(1)
        for i in range(101):
            stub.add_comment(1, str(i))
        assert len(list(repo(stub).comments(1))) == 101
        assert all(r.path.startswith("/repos/") for r in stub.requests)


def test_wrong_or_missing_token_is_401_naming_the_permission_and_never_the_token(github):
    github.add_pull(3)
    wrong = "ghp_wrongwrongwrong"
    with pytest.raises(GitHubError) as caught:
        repo(github, wrong).create_comment(3, "hello")
    assert caught.value.status == 401
    text = str(caught.value)
    assert "Bad credentials" in text and "pull-requests: write" in text
    assert wrong not in text
    with pytest.raises(GitHubError) as caught:
        list(repo(github, None).comments(3))
    assert caught.value.status == 401 and "Requires authentication" in str(caught.value)
    assert not github.comments_on(3)


def test_missing_permission_is_403_naming_it(github):
    github.add_pull(3)
    github.set_permissions(pull_requests=1)  # read only
    with pytest.raises(GitHubError) as caught:
        repo(github).create_comment(3, "hello")
    assert caught.value.status == 403
    assert "`pull-requests: write`" in str(caught.value)
    assert "permissions:" in caught.value.hint


def test_get_is_retried_through_502s(github):
    github.add_pull(3)
    github.fail("GET", r"/pulls/3$", status=502, times=2)
    assert repo(github).pull(3)["number"] == 3
    assert [r.status for r in github.calls("GET", "/pulls/3$")] == [502, 502, 200]


def test_post_is_not_retried_after_a_502(github):
    github.add_pull(3)
    github.fail("POST", r"/comments$", status=502, times=1, applied=True)
    with pytest.raises(GitHubError) as caught:
        repo(github).create_comment(3, "hello")
    assert caught.value.status == 502
    assert len(github.calls("POST")) == 1 and len(github.comments_on(3)) == 1


def test_rate_limit_403_waits_for_the_reset_and_retries_even_a_post(github):
    github.add_pull(3)
    github.rate_limit("POST", r"/comments$", times=1, reset_in=1)
    start = time.monotonic()
    repo(github).create_comment(3, "hello")
    assert time.monotonic() - start >= 0.4  # waited for x-ratelimit-reset, not a 0 s backoff
    assert [r.status for r in github.calls("POST")] == [403, 201]
    assert len(github.comments_on(3)) == 1


def test_secondary_rate_limit_retry_after_is_honoured(github):
    github.add_pull(3)
    github.fail("GET", r"/pulls/3$", status=429, times=1, headers={"Retry-After": "1"})
    start = time.monotonic()
    repo(github).pull(3)
    assert time.monotonic() - start >= 0.9


def test_rate_limit_resetting_too_late_is_an_error_saying_so(github, monkeypatch):
    monkeypatch.setenv("RESTORE_GATE_RATE_LIMIT_WAIT", "2")
    github.add_pull(3)
    github.rate_limit("GET", r"/pulls/3$", times=5, reset_in=3600)
    with pytest.raises(GitHubError) as caught:
        repo(github).pull(3)
    assert caught.value.status == 403 and "rate limit exhausted until" in caught.value.hint
    assert len(github.calls("GET", "/pulls/3$")) == 1


def test_permission_403_is_not_retried(github):
    github.add_pull(3)
    github.set_permissions(pull_requests=0)
    with pytest.raises(GitHubError):
        repo(github).pull(3)
    assert len(github.calls("GET", "/pulls/3$")) == 1


def test_unreachable_api_is_an_error_without_the_token(monkeypatch):
    monkeypatch.setenv("RESTORE_GATE_HTTP_BACKOFF", "0")
    with GitHubStub() as stub:
        url = stub.base_url
    with pytest.raises(GitHubError) as caught:  # the server is gone: connection refused
        Repo(GitHub(TOKEN, url), "octo/models").pull(1)
    assert "unreachable" in str(caught.value) and TOKEN not in str(caught.value)


def test_link_to_another_host_does_not_get_the_token(github):
    client = GitHub(TOKEN, github.base_url)
    with pytest.raises(GitHubError, match="refusing to send the token"):
        client.request("GET", "http://127.0.0.1:9/repos/octo/models/pulls/1")


def test_identity_of_an_installation_token_is_the_actions_bot(github):
    assert identities(GitHub(TOKEN, github.base_url)) == {"github-actions[bot]"}
    github.add_token("ghp_personal", "octocat", installation=False)
    assert identities(GitHub("ghp_personal", github.base_url)) == {"octocat"}
    assert identities(GitHub(TOKEN, github.base_url), "my-app[bot]") == {"my-app[bot]"}


def test_rate_limit_wait_reads_github_headers():
    assert rate_limit_wait({"Retry-After": "7"}) == 7
    assert rate_limit_wait({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "110"},
                           now=100) == pytest.approx(10.5)
    assert rate_limit_wait({"x-ratelimit-remaining": "12"}) is None
