"""Reads an iCalendar document with three independent readers and prints what each saw, as JSON.

usage: ics_check.py FILE

- icalendar: the calendar's NAME and X-WR-CALNAME, and each VEVENT's UID, SUMMARY, DESCRIPTION
  and LOCATION (unescaped), its ORGANIZER and ATTENDEEs (address, CN, PARTSTAT);
- vobject (readOne, validating): the same, read independently;
- recurring-ical-events: how many event occurrences the calendar expands to.

Exit 0 when every reader accepts the document, 1 when one refuses it.
"""

import json
import sys
import warnings

warnings.simplefilter("ignore")

import icalendar
import recurring_ical_events
import vobject

FIELDS = ("uid", "summary", "description", "location")


def person(address: str, params) -> dict:
    return {"address": address, "cn": params.get("CN"), "partstat": params.get("PARTSTAT")}


def with_icalendar(data: bytes) -> dict:
    cal = icalendar.Calendar.from_ical(data)
    events = []
    for event in cal.walk("VEVENT"):
        fields = {f: (str(event[f]) if f in event else None) for f in FIELDS}
        organizer = event.get("ORGANIZER")
        attendees = event.get("ATTENDEE", [])
        if not isinstance(attendees, list):
            attendees = [attendees]
        fields["organizer"] = None if organizer is None else person(str(organizer), organizer.params)
        fields["attendees"] = [person(str(a), a.params) for a in attendees]
        events.append(fields)
    name = cal.get("NAME")
    calname = cal.get("X-WR-CALNAME")
    return {
        "name": None if name is None else str(name),
        "x_wr_calname": None if calname is None else str(calname),
        "events": events,
    }


def with_vobject(data: bytes) -> dict:
    cal = vobject.readOne(data.decode("utf-8"), validate=True)
    events = []
    for event in cal.contents.get("vevent", []):
        fields = {f: (event.contents[f][0].value if f in event.contents else None) for f in FIELDS}
        first = lambda params: {k: v[0] for k, v in params.items() if v}
        organizers = event.contents.get("organizer", [])
        fields["organizer"] = person(organizers[0].value, first(organizers[0].params)) if organizers else None
        fields["attendees"] = [person(a.value, first(a.params)) for a in event.contents.get("attendee", [])]
        events.append(fields)
    return {"events": events}


def with_recurring(data: bytes) -> dict:
    cal = icalendar.Calendar.from_ical(data)
    return {"occurrences": len(list(recurring_ical_events.of(cal).all()))}


def main() -> int:
    data = open(sys.argv[1], "rb").read()
    report = {}
    ok = True
    for name, read in (("icalendar", with_icalendar), ("vobject", with_vobject), ("recurring", with_recurring)):
        try:
            report[name] = read(data)
        except Exception as e:  # any refusal is the finding
            report[name] = {"error": f"{type(e).__name__}: {e}"}
            ok = False
    print(json.dumps(report, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
