"""The few Streamlit helpers every page shares: the store handle, the login guard, and the one
way untrusted text reaches the screen.

This is the only module of ``views`` that imports Streamlit; the rest are plain functions the
tests call directly.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import streamlit as st

from evalkit.errors import EvalkitError
from evalkit.records import utcnow
from evalkit.settings import Settings, load_settings
from evalkit.store.database import Database
from views import label, state
from views.session import AppSession, logout, may_open, resume
from views.text import segments


@st.cache_resource(show_spinner=False)
def _open(url: str) -> Database:
    return Database.open(url)


def settings() -> Settings:
    """The app's settings: ``EVALKIT_*`` from the environment, as every evalkit entry point."""
    return load_settings()


def database() -> Database:
    """One store handle (connection pool) per store URL for the whole server process."""
    return _open(settings().resolved_database_url)


def current_session() -> AppSession | None:
    found = st.session_state.get(state.SESSION)
    return found if isinstance(found, AppSession) else None


def live_session() -> AppSession | None:
    """The logged-in reviewer, looked up again in the store; None when logged out.

    The token is resolved on every run, on whichever page the reviewer is, so nothing acts for
    a login past ``EVALKIT_APP_SESSION_MINUTES``, after a logout in another tab, or for a
    deactivated account; the item in hand is then given back.
    """
    session = current_session()
    if session is None:
        return None
    resumed = resume(database(), session)
    if resumed is None:
        _give_back(session)
        end_session("Your session has ended: log in again.")
        return None
    st.session_state[state.SESSION] = resumed
    return resumed


def require_session(page: str) -> AppSession:
    """The logged-in reviewer allowed on ``page``; otherwise a message and the page stops."""
    session = live_session()
    if session is None:
        st.warning("Log in first.")
        st.page_link("Home.py", label="Log in", icon=":material/login:")
        st.stop()
    assert session is not None
    if not may_open(session, page):
        st.error(f"The {page} page is not open to the {session.role} role.")
        st.stop()
    navigation(session)
    return session


#: The app's folder: pages are found here, so a stage adding ``pages/N_Name.py`` is listed.
APP_DIR = Path(__file__).resolve().parents[1]


def navigation(session: AppSession | None) -> None:
    """The sidebar: only the pages this role may open (Streamlit's own list shows them all)."""
    st.set_option("client.showSidebarNavigation", False)
    with st.sidebar:
        st.page_link("Home.py", label="Home", icon=":material/home:")
        if session is None:
            return
        for page, name in allowed_pages(session):
            st.page_link(page, label=name)
        st.caption(f"Signed in as {session.display_name} ({session.role})")


def allowed_pages(session: AppSession) -> list[tuple[str, str]]:
    """(``pages/3_Queue.py``, ``Queue``) for every page of ``pages/`` the role may open."""
    found = sorted((APP_DIR / "pages").glob("*.py"), key=_page_order)
    named = [(f"pages/{p.name}", page_name(p.name)) for p in found]
    return [(page, name) for page, name in named if may_open(session, name)]


def page_name(filename: str) -> str:
    """``3_Queue.py`` → ``Queue``, as Streamlit names a page from its file."""
    stem = filename.removesuffix(".py")
    number, _, rest = stem.partition("_")
    return (rest if number.isdigit() and rest else stem).replace("_", " ")


def _page_order(path: Path) -> tuple[int, str]:
    number = path.name.partition("_")[0]
    return (int(number) if number.isdigit() else 10**6, path.name)


def _give_back(session: AppSession) -> None:
    """Release the item in hand, so it does not sit leased to someone who has left."""
    current = st.session_state.get(state.CURRENT_ITEM)
    if current is not None:
        with contextlib.suppress(EvalkitError):
            label.skip(database(), session.reviewer, current, now=utcnow())


def log_out() -> None:
    """End the session in the store (the token stops working) and in the browser."""
    session = current_session()
    if session is not None:
        _give_back(session)
        logout(database(), session)
    end_session("Logged out.")


def end_session(notice: str | None = None) -> None:
    """Log out: forget everything of this reviewer in the browser session."""
    for key in list(st.session_state.keys()):
        if str(key).startswith("evalkit."):
            del st.session_state[key]
    if notice:
        st.session_state[state.LOGIN_NOTICE] = notice


def show_untrusted(text: str | None, *, empty: str = "(empty)") -> None:
    """Show prompt, context or model output without ever interpreting it as Markdown or HTML."""
    parts = segments(text)
    if not parts:
        st.caption(empty)
    for part in parts:
        if part.kind == "code":
            st.code(part.body, language=part.language, wrap_lines=True)
        else:
            st.text(part.body, width="stretch")
