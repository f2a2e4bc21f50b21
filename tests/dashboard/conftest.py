"""Fixtures: the app on a real socket and an HTTP client that logs in through the form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from avisa.services import Services
from avisa.web import create_app
from tests.support.server import serve_app

#: For tests of the web layer alone (login, throttling, cookies): storage cannot change them,
#: so they run on SQLite only; everything that reads or writes data runs on both.
web_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token in a page's first form."""
    found = _CSRF.search(html)
    assert found, "page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Site:
    url: str
    services: Services
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self) -> httpx.Client:
        """A fresh client (own cookies), closed when the test ends."""
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)
        self.clients.append(client)
        return client

    def login(self, credential: str) -> httpx.Client:
        """A client logged in with `credential` (fails the test if refused)."""
        client = self.client()
        answer = self.submit_login(client, credential)
        assert answer.status_code == 303, answer.text
        return client

    def submit_login(self, client: httpx.Client, credential: str) -> httpx.Response:
        form = client.get("/dashboard/login")
        return client.post(
            "/dashboard/login",
            data={
                "csrf_token": csrf_of(form.text),
                "credential": credential,
                "next": "/dashboard/jobs",
            },
        )

    def post_form(
        self, client: httpx.Client, page: str, action: str, **fields: str
    ) -> httpx.Response:
        """Submit a form of `page` as a browser would: with that page's CSRF token."""
        token = csrf_of(client.get(page).text)
        return client.post(action, data={"csrf_token": token, **fields})


@pytest.fixture
def site(services: Services) -> Iterator[Site]:
    with serve_app(create_app(services)) as url:
        served = Site(url, services)
        try:
            yield served
        finally:
            for client in served.clients:
                client.close()
