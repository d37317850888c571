"""Reads an e-mail as a mail client would (Python's `email` package) and reports its iMIP
(RFC 6047) invitation, as JSON.

usage: imip_check.py FILE

- parts: the MIME tree as content types, in order (`multipart/alternative` and its children);
- method: the `method` parameter of the `text/calendar` part (RFC 6047 2.4);
- calendar: the METHOD of the iCalendar object, and each VEVENT's UID and SEQUENCE, read with
  icalendar; with ics_check.py's reading of its fields, organizer and attendees (RSVP too) by
  icalendar and vobject.

Exit 0 when the mail has one text/calendar part that both readers accept, 1 otherwise.
"""

import email
import email.policy
import json
import sys

import icalendar

from ics_check import with_icalendar, with_vobject


def main() -> int:
    message = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
    parts = [part.get_content_type() for part in message.walk()]
    calendars = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    report = {"parts": parts, "calendar_parts": len(calendars)}
    if len(calendars) != 1:
        print(json.dumps(report, ensure_ascii=False))
        return 1
    part = calendars[0]
    report["method"] = part.get_param("method")
    report["disposition"] = part.get_content_disposition()
    data = part.get_content().encode("utf-8")
    ok = True
    try:
        cal = icalendar.Calendar.from_ical(data)
        events = []
        for event in cal.walk("VEVENT"):
            attendees = event.get("ATTENDEE", [])
            if not isinstance(attendees, list):
                attendees = [attendees]
            events.append(
                {
                    "uid": str(event.get("UID")),
                    "sequence": int(event.get("SEQUENCE", 0)),
                    "rsvp": [a.params.get("RSVP") for a in attendees],
                }
            )
        report["calendar"] = {"method": str(cal.get("METHOD")), "events": events}
    except Exception as e:
        report["calendar"] = {"error": f"{type(e).__name__}: {e}"}
        ok = False
    for name, read in (("icalendar", with_icalendar), ("vobject", with_vobject)):
        try:
            report[name] = read(data)
        except Exception as e:
            report[name] = {"error": f"{type(e).__name__}: {e}"}
            ok = False
    print(json.dumps(report, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
