"""What users ask about their accounts, medicines and nothing in particular, and the answers.

As in ``shop``: each builder returns an ``Exchange`` whose invented answer leads with a
specific (a menu path, a time limit, a dose) that the context does not support. Small talk has no
context; its invented answer is a confident fib.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from evalkit.demo.words import (
    CITIES,
    FIRST_NAMES,
    Exchange,
    Rng,
    TenantFacts,
    exchange,
    keyed,
    lines,
    other,
    pick,
    qty,
    say,
)

# --- account_help ------------------------------------------------------------------------------

FAKE_PATHS = lines("""
    Profile > Privacy > Recovery
    Account > Advanced > Reset
    Settings > General > Login
    Profile > Security > Unlock
    Help > Account > Restore
""")
ACCOUNT_ASK = {
    "password": lines("""
        I forgot my password and can't log in.
        How do I reset my password? The old link doesn't work.
        locked out of my account, help
        Reset link isn't working?
    """),
    "email": lines("""
        How do I change the email on my account?
        I need to update my login email.
        new email address, how do i switch it over
    """),
    "two_factor": lines("""
        How do I turn on two-factor authentication?
        Want to add 2FA, where is it?
        how do I set up an authenticator app for login
    """),
    "delete": lines("""
        Please delete my account.
        How do I close my account for good?
        If I delete my account can I get it back later?
    """),
    "billing": lines("""
        How do I update the card I pay with?
        My card expired, where do I change it?
        need to change my billing card
    """),
}
ACCOUNT_HELP = keyed("""
    @password Resetting your password. Open {path} and choose Send reset link. The link expires
    after {n}; request a new one if it has expired.

    @email Changing your email: go to {path} and enter the new address. Confirm from the message
    we send there within {n}, or the change is cancelled.

    @two_factor Two-factor authentication: go to {path} and scan the code with an authenticator
    app. Each code is valid for {n}.

    @delete Deleting your account: go to {path}. A deleted account can be restored within {n};
    after that, your data is permanently removed.

    @billing Updating your payment method: go to {path} and add the new card before removing the
    old one. Changes apply from the next invoice.
""")
ACCOUNT_SAY = keyed("""
    @password Open {path} and choose Send reset link; the link works for {n}. | If it has expired,
    just request a new one from the same page. | Check your spam folder if the email doesn't show.

    @email Go to {path}, enter the new address and confirm from the message we send there within
    {n}. | Until you confirm, your old address keeps working.

    @two_factor Go to {path} and scan the code with an authenticator app; each code is valid for
    {n}. | Save the backup codes somewhere safe.

    @delete Go to {path}; a deleted account can still be restored within {n}. | After that, your
    data is permanently removed.

    @billing Go to {path} and add the new card before removing the old one. | Changes apply from
    the next invoice.
""")


def _account_facts(t: TenantFacts) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Topic -> (menu path, the number the help article states, numbers a model may invent)."""
    return {
        "password": (
            "Settings > Security > Password",
            qty(t.reset_minutes, "minute"),
            ("12 hours", "24 hours", "48 hours"),
        ),
        "email": (
            "Settings > Account > Email",
            qty(t.email_hours, "hour"),
            ("6 hours", "12 hours", "7 days", "72 hours"),
        ),
        "two_factor": (
            "Settings > Security > Two-factor",
            qty(t.code_seconds, "second"),
            ("5 minutes", "10 minutes", "120 seconds"),
        ),
        "delete": (
            "Settings > Account > Delete",
            qty(t.restore_days, "day"),
            ("60 days", "90 days", "180 days"),
        ),
        "billing": ("Settings > Billing > Payment", "", ()),
    }


def account_exchange(rng: Rng, t: TenantFacts, at: datetime) -> Exchange:
    facts = _account_facts(t)
    topic = pick(rng, tuple(facts))
    path, n, lies = facts[topic]
    passage = ACCOUNT_HELP[topic].format(path=path, n=n)
    passages = [passage]
    if rng.random() < 0.5:  # retrieval also brought back a neighbouring article
        near = other(rng, tuple(facts), topic.__eq__)
        passages.append(ACCOUNT_HELP[near].format(path=facts[near][0], n=facts[near][1]))
    answer = say(ACCOUNT_SAY[topic], path=path, n=n)
    if lies and rng.random() < 0.5:
        lie = other(rng, lies, lambda v: any(v in p for p in passages))
        invented = say(ACCOUNT_SAY[topic], path=path, n=lie)
    else:
        invented = say(ACCOUNT_SAY[topic], path=pick(rng, FAKE_PATHS), n=n)
    prompt = pick(rng, ACCOUNT_ASK[topic])
    return exchange(rng, prompt, "Help center", passages, passage, answer, invented)


# --- medical_question --------------------------------------------------------------------------


@dataclass(frozen=True)
class Medicine:
    """A fictional over-the-counter product and what its leaflet says."""

    name: str
    dose: str  # how to take it; {i} is the interval
    interval: tuple[int, str]
    daily_max: tuple[int, str]
    limit: tuple[int, str]  # see a doctor after this long
    warning: str


# fmt: off
MEDICINES = (
    Medicine("Feverel 500 mg tablets", "Adults take 1 or 2 tablets every {i}.", (6, "hour"),
             (8, "tablet"), (3, "day"), "Do not combine with other products containing the same "
             "active ingredient."),
    Medicine("Allerin 10 mg tablets", "Take 1 tablet once every {i}.", (24, "hour"),
             (1, "tablet"), (14, "day"), "May cause drowsiness; do not drive if affected."),
    Medicine("Dormira 25 mg tablets", "Take 1 tablet {i} before bed.", (20, "minute"),
             (1, "tablet"), (7, "night"), "Do not drink alcohol while using it."),
    Medicine("Tussilin cough syrup", "Adults take 10 ml every {i}.", (4, "hour"),
             (40, "ml"), (7, "day"), "Keep out of reach of children."),
)
# fmt: on
MEDICAL_ASK = {
    "most": lines("""
        How much {s} can I take in a day?
        what's the max amount of {s} per day
        Is it ok to take extra {s} if the first dose doesn't work?
    """),
    "interval": lines("""
        How long do I have to wait between doses of {s}?
        when can I take the next {s}?
    """),
    "limit": lines("""
        I've been taking {s} for {d}, is it ok to keep going?
        {s} for {d} now and still not better. Should I keep taking it?
    """),
}
MEDICAL_SAY = keyed("""
    @most You can take up to {n} of {s} in 24 hours, and no more than that. | {ask}

    @interval The leaflet says: {dose} | {ask}

    @over Please speak to a doctor: the leaflet says not to go beyond {n}, and it's been {d}. |
    {ask}

    @within You can carry on for now, but stop and see a doctor after {n}. | {ask}

    @keep_going It's fine to keep taking {s} for up to {n} without seeing a doctor. | {ask}
""")
ASK_PHARMACIST = "If you're unsure, a pharmacist can check it against anything else you take."


def medical_exchange(rng: Rng, t: TenantFacts, at: datetime) -> Exchange:
    m = pick(rng, MEDICINES)
    s, (limit, unit) = m.name.split()[0], m.limit
    dose = m.dose.format(i=qty(*m.interval))
    most = f"Do not take more than {qty(*m.daily_max)} in 24 hours."
    stop = (
        f"Do not use for more than {qty(*m.limit)} in a row."
        if unit == "night"
        else (f"See a doctor if symptoms last more than {qty(*m.limit)}.")
    )
    kind = pick(rng, ("most", "interval", "limit"))
    d = int(rng.integers(2, limit * 2 + 1))
    slots = {"s": s, "ask": ASK_PHARMACIST, "d": qty(d, unit)}
    if kind == "most":
        answer = say(MEDICAL_SAY["most"], n=qty(*m.daily_max), **slots)
        more = (m.daily_max[0] * pick(rng, (2, 3)), m.daily_max[1])
        invented, key = say(MEDICAL_SAY["most"], n=qty(*more), **slots), most
    elif kind == "interval":
        answer = say(MEDICAL_SAY["interval"], dose=dose, **slots)
        sooner = qty(other(rng, (2, 3, 12, 30, 45), m.interval[0].__eq__), m.interval[1])
        invented, key = say(MEDICAL_SAY["interval"], dose=m.dose.format(i=sooner), **slots), dose
    else:
        answer = say(MEDICAL_SAY["over" if d > limit else "within"], n=qty(*m.limit), **slots)
        n2 = other(rng, (limit * 3, limit * 4, 30, 60), lambda n: n in (limit, d))
        invented, key = say(MEDICAL_SAY["keep_going"], n=qty(n2, unit), **slots), stop
    passages = [f"{m.name}. {dose} {most} {stop} {m.warning}"]
    if rng.random() < 0.4:
        passages.append(f"{t.brand} pharmacists answer questions by chat every day from 8am.")
    prompt = pick(rng, MEDICAL_ASK[kind]).format(**slots)
    return exchange(rng, prompt, "Leaflet", passages, key, answer, invented)


# --- smalltalk ---------------------------------------------------------------------------------

SMALLTALK_ASK = {
    "hello": ("hi", "hello?", "good morning!", "is anyone there"),
    "who": ("are you a real person?", "who am I talking to?", "are you a bot"),
    "thanks": ("thanks, that's all I needed", "ok thanks bye", "great, thank you"),
    "what": ("what can you help me with?", "what do you do"),
}
SMALLTALK_SAY = keyed("""
    @hello Hi! I'm the {b} assistant. | I can help with orders, returns, products and your
    account. | What can I do for you today?

    @who I'm {b}'s virtual assistant, not a person. | If you'd like a human, I can hand you over
    to the support team.

    @thanks You're welcome! | Glad I could help.

    @what I can check orders, explain returns, answer product questions and help with your
    account. | Just tell me what you need.
""")

#: Without context to contradict, a smalltalk hallucination makes up facts about the company.
SMALLTALK_FIBS = lines("""
    I'm {name} from the {b} team in {city}.
    Fun fact: {b} has been around since {year} and ships to {countries} countries.
    Every {b} order this month gets a {pct}% loyalty discount.
""")


def smalltalk_exchange(rng: Rng, t: TenantFacts, at: datetime) -> Exchange:
    kind = pick(rng, tuple(SMALLTALK_ASK))
    answer = say(SMALLTALK_SAY[kind], b=t.brand)
    fib = pick(rng, SMALLTALK_FIBS).format(
        b=t.brand,
        name=pick(rng, FIRST_NAMES),
        city=pick(rng, CITIES),
        year=int(rng.integers(1950, 2000)),
        countries=int(rng.integers(40, 180)),
        pct=pick(rng, (20, 25, 30)),
    )
    prompt = pick(rng, SMALLTALK_ASK[kind])
    return Exchange(prompt, None, answer, (fib, *answer[1:]), "That's not true.")
