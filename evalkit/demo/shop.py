"""What users ask a shop's assistant about refunds, orders and products, and how it answers.

Each builder returns an ``Exchange`` with a grounded answer and an invented one. The first
sentence of an invented answer states a specific (a number of days, a delivery status, a weight,
an IP rating) that the retrieved context does not support, so a reviewer comparing response and
context can catch it; the grounded answer states only specifics found there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from evalkit.demo.words import (
    CARRIERS,
    CITIES,
    STREETS,
    Exchange,
    Rng,
    TenantFacts,
    day,
    exchange,
    keyed,
    lines,
    other,
    pick,
    qty,
    say,
    weighted,
)

# --- refund_policy -----------------------------------------------------------------------------

REFUND_ASK = {
    "general": lines("""
        What's your return policy?
        How do returns work for a {item}?
        Can I send back the {item} if I don't like it?
        i want to return my {item}, how long do i have
    """),
    "elapsed": lines("""
        I got my {item} {d} days ago, can I still return it?
        it's been {d} days since the {item} arrived - too late to send it back?
        Received the {item} {d} days ago and it's not what I expected. Can I return it?
    """),
    "timing": lines("""
        I sent my {item} back last week, when do I get my money?
        how long do refunds take?
        My {item} return reached you on Monday, when will I see the refund?
    """),
    "shipping": lines("""
        Do I get the shipping cost back if I return the {item}?
        will you refund shipping on my {item} return?
        Do I have to pay for return shipping?
    """),
}
REFUND = keyed("""
    @window Refunds are accepted within {w} days of delivery for items in their original condition.

    @timing Refunds go back to the original payment method within {k} business days of the
    return arriving at our warehouse.

    @shipping Original shipping charges are not refunded; return shipping is free with the
    prepaid label.

    @general You can return the {item} within {n} days of delivery{tail}. | Once it reaches our
    warehouse, the refund goes back to your original payment method within {k} business days. |
    You can start the return from your order page.

    @eligible Yes, you're still inside the {w}-day return window, so you can send the {item} back.
    | You can start the return from your order page. | The refund follows within {k} business days.

    @late Unfortunately not: returns are accepted within {w} days of delivery, and it's been {d}
    days. | If the {item} is faulty, we can still look at a warranty claim.

    @covered Yes, no problem: our return window is {n} days, so you're still covered. | You can
    start the return from your order page.

    @money Refunds go back to your original payment method {when} of the return arriving at our
    warehouse. | You'll get an email once it's issued.

    @fees Original shipping charges aren't refunded, but return shipping is free with the prepaid
    label. | You can start the return from your order page.

    @credit Yes, we refund the original shipping in full and add a ${n} credit for the trouble. |
    You can start the return from your order page.
""")


def refund_exchange(rng: Rng, t: TenantFacts, at: datetime) -> Exchange:
    w, k, item = t.refund_window, t.refund_days, pick(rng, t.items)
    kind = pick(rng, ("general", "general", "elapsed", "elapsed", "timing", "shipping"))
    eligible = rng.random() < 0.6
    d = int(rng.integers(3, w)) if eligible else int(rng.integers(w + 3, w + 40))
    prompt = pick(rng, REFUND_ASK[kind]).format(item=item, d=d)
    window, timing, shipping = (
        REFUND[p].format(w=w, k=k) for p in ("window", "timing", "shipping")
    )
    passages = [window, timing]
    passages += [p for p in (f"{t.excluded} cannot be returned.", shipping) if rng.random() < 0.5]
    slots = {"w": w, "k": k, "d": d, "item": item}
    if kind == "general":
        tail = ", as long as it's in its original condition"
        answer = say(REFUND["general"], n=w, tail=tail, **slots)
        lie = pick(rng, (", no questions asked", ", even if you've used it"))
        invented = say(
            REFUND["general"], n=other(rng, (60, 90, 100, 365), w.__eq__), tail=lie, **slots
        )
        key = window
    elif kind == "elapsed":
        answer = say(REFUND["eligible" if eligible else "late"], **slots)
        longer = other(rng, (60, 90, 120, 365), lambda n: n in (w, d) or n < d)
        invented = say(REFUND["covered"], n=longer, **slots)
        key = window
    elif kind == "timing":
        answer = say(REFUND["money"], when=f"within {k} business days")
        fast = pick(rng, ("within 24 hours", "within 48 hours", "within 1 business day"))
        invented = say(REFUND["money"], when=fast if k != 1 else "within 24 hours")
        key = timing
    else:
        answer = say(REFUND["fees"])
        invented = say(REFUND["credit"], n=pick(rng, (5, 10, 15)))
        passages = [p for p in passages if p != shipping] + [shipping]
        key = shipping
    source = f"{t.brand} returns policy"
    return exchange(rng, prompt, source, passages, key, answer, invented)


# --- order_status ------------------------------------------------------------------------------

STATUS_WEIGHTS = {
    "in transit": 0.45,
    "out for delivery": 0.12,
    "delayed": 0.15,
    "delivered": 0.12,
    "awaiting pickup": 0.08,
    "label created": 0.08,
}
ORDER_LINE = keyed("""
    @in_transit Status: in transit. Carrier: {carrier}, tracking {trk}. Last scan: {city} on
    {scan}. Estimated delivery: {eta}.

    @out_for_delivery Status: out for delivery. Carrier: {carrier}, tracking {trk}. Estimated
    delivery: {today}.

    @delayed Status: delayed. Carrier note: weather disruption at the {city} hub on {scan}. New
    estimated delivery: {eta}.

    @delivered Status: delivered. Delivered on {scan}, left at front door. Carrier: {carrier}.

    @awaiting_pickup Status: awaiting pickup. Parcel is at the {carrier} point on {street},
    {city}, held until {eta}.

    @label_created Status: label created. {carrier} has not scanned the parcel yet. Estimated
    delivery: {eta}.
""")
ORDER_SAY = keyed("""
    @in_transit Order #{no} is in transit with {carrier}: it was last scanned in {city} on {scan}
    and should arrive by {eta}. | You can follow it with tracking number {trk}. | If it hasn't
    arrived by then, reply here and we'll look into it.

    @out_for_delivery Order #{no} is out for delivery with {carrier} today, {eta}. | You can
    follow it with tracking number {trk}.

    @delayed Order #{no} is delayed: {carrier} reported a weather disruption at the {city} hub,
    and the new estimate is {eta}. | The hold-up is on the carrier's side, not with your order.

    @delivered Order #{no} shows as delivered on {scan}, left at the front door. | If you can't
    find it, check around the entrance and let us know, so we can open a claim with the carrier.

    @awaiting_pickup Order #{no} is awaiting pickup at the {carrier} point on {street}, {city},
    where it will be held until {eta}. | Bring your order number and a photo ID.

    @label_created Order #{no} has a label created, but {carrier} hasn't scanned it yet; the
    estimated delivery is {eta}. | Tracking updates appear once the carrier picks it up.
""")
ORDER_INVENTED = keyed("""
    @delivered Order #{no} was delivered earlier today and left at your front door.

    @held_at_customs Order #{no} is held at customs in {city}, which usually adds a few days.

    @returned_to_sender Order #{no} was returned to sender because the address couldn't be
    verified.

    @out_for_delivery Order #{no} is out for delivery and will be with you this afternoon.

    @in_transit Order #{no} is in transit and moving normally through {city}.

    @delayed Order #{no} is delayed at the {city} hub.
""")
ORDER_ASK = lines("""
    Where is my order #{no}?
    Any update on order #{no}? It should have been here by now.
    Can you check the status of order {no}?
    When will my {item} arrive? Order #{no}.
    my package still hasnt shown up. order {no}
""")
MISSING_ASK = lines("""
    It says order #{no} was delivered but I don't have it.
    tracking for {no} says delivered?? nothing here
""")


def order_exchange(rng: Rng, t: TenantFacts, at: datetime) -> Exchange:
    status = weighted(rng, STATUS_WEIGHTS).replace(" ", "_")
    no = f"{t.order_prefix}-{int(rng.integers(100_000, 1_000_000))}"
    carrier, city, item = pick(rng, CARRIERS), pick(rng, CITIES), pick(rng, t.items)
    trk = f"{carrier[:2].upper()}-{rng.integers(10**4, 10**5)}-{rng.integers(10**3, 10**4)}"
    placed = at - timedelta(days=int(rng.integers(2, 7)))
    scan = at - timedelta(days=int(rng.integers(0, 2)))
    eta = at + timedelta(days=int(rng.integers(1, 5)))
    slots = {
        "no": no,
        "carrier": carrier,
        "city": city,
        "trk": trk,
        "scan": day(scan),
        "eta": day(at) if status == "out_for_delivery" else day(eta),
        "today": day(at),
        "street": pick(rng, STREETS),
    }
    line = ORDER_LINE[status].format(**slots)
    answer = say(ORDER_SAY[status], **slots)
    if "{eta}" in ORDER_SAY[status] and rng.random() < 0.4:
        # Same status, invented date: the subtler kind of order hallucination.
        known = {day(placed), day(scan), day(at), slots["eta"]}
        later = [day(eta + timedelta(days=n)) for n in (2, 3, 5, 8)]
        invented = say(ORDER_SAY[status], **{**slots, "eta": other(rng, later, known.__contains__)})
    else:
        fake = other(rng, tuple(ORDER_INVENTED), status.__eq__)
        city2 = other(rng, CITIES, city.__eq__)
        invented = (ORDER_INVENTED[fake].format(no=no, city=city2), answer[1])
    asks = MISSING_ASK if status == "delivered" else ORDER_ASK
    prompt = pick(rng, asks).format(no=no, item=item)
    passages = [f"Order #{no}, placed {day(placed)}: {item}. {line}"]
    if rng.random() < 0.4:
        passages.append(
            "Standard shipping takes 3 to 5 business days; express orders placed before 2 pm "
            "ship the same day."
        )
    return exchange(rng, prompt, "Order system", passages, line, answer, invented)


# --- product_question --------------------------------------------------------------------------

PRODUCT_ASK = {
    "battery": lines("""
        How long does the battery on the {p} last?
        Will the {p} get through a full day on one charge?
        what's the battery life of the {p}
        Thinking of buying the {p} for a trip. How many hours does it run?
    """),
    "weight": lines("""
        How heavy is the {p}?
        what does the {p} weigh? packing light
        Is the {p} light enough to carry around all day?
    """),
    "warranty": lines("""
        What warranty comes with the {p}?
        If the {p} breaks after a year, is it covered?
        how long is the {p} under warranty
    """),
    "water": lines("""
        Is the {p} waterproof?
        Can I use the {p} in the rain?
        will the {p} survive getting splashed?
    """),
}
PRODUCT_SAY = keyed("""
    @battery The {p} runs for up to {n} hours on a full charge. | Actual runtime depends on
    brightness and settings.

    @weight The {p} weighs {n} g. | That's without the packaging.

    @warranty The {p} comes with a {n}-year limited warranty from the delivery date. | Keep your
    order confirmation as proof of purchase.

    @water The {p} is rated {n}, so {means}. | Dry it off before charging.

    @dry The {p} isn't water resistant, so keep it dry. | Wipe it with a dry cloth if it gets damp.
""")
WATER = {
    "IPX4": "splashes and light rain are fine, but don't submerge it",
    "IPX5": "it handles rain and water jets, but don't submerge it",
    "IPX6": "it copes with heavy rain, but don't submerge it",
    "IPX7": "it can be briefly submerged",
    "IP68": "it's dust-tight and can be submerged",
}


def product_exchange(rng: Rng, t: TenantFacts, at: datetime) -> Exchange:
    p = pick(rng, t.products)
    power = f"up to {p.battery_hours} hours" if p.battery_hours else "mains adapter, no battery"
    sheet = {
        "battery": f"Battery life: {power}.",
        "weight": f"Weight: {p.weight_g} g.",
        "warranty": f"Warranty: {qty(p.warranty_years, 'year')} (limited), from delivery.",
        "water": f"Water resistance: {p.water or 'none, keep dry'}.",
    }
    aspect = pick(rng, tuple(a for a in sheet if a != "battery" or p.battery_hours))
    true = {"battery": p.battery_hours, "weight": p.weight_g, "warranty": p.warranty_years}
    if aspect == "water":
        answer = say(
            PRODUCT_SAY["water" if p.water else "dry"],
            p=p.name,
            n=p.water,
            means=WATER.get(p.water or "", ""),
        )
        fake = other(rng, ("IPX7", "IP68"), (p.water or "").__eq__)
        invented = say(PRODUCT_SAY["water"], p=p.name, n=fake, means="you can take it swimming")
    else:
        n = true[aspect] or 0
        wrong = {
            "battery": (n * 2, n + 10, 48, 72, 100),
            "weight": (n // 2, n * 3 // 5, n * 3 // 2),
            "warranty": (3, 5, 10),
        }[aspect]
        answer = say(PRODUCT_SAY[aspect], p=p.name, n=n)
        invented = say(PRODUCT_SAY[aspect], p=p.name, n=other(rng, wrong, n.__eq__))
    passages = [f"{p.name}. " + " ".join(sheet.values())]
    if rng.random() < 0.5:
        passages.append("Orders over $50 ship free within the US.")
    prompt = pick(rng, PRODUCT_ASK[aspect]).format(p=p.name)
    return exchange(rng, prompt, "Product sheet", passages, sheet[aspect], answer, invented)
