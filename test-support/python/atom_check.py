"""Reads an Atom document with two independent readers and prints what they saw, as JSON.

usage: atom_check.py FILE

- expat (the XML parser in Python's standard library): is the document well-formed XML 1.0?
- feedparser: does it read as a feed without complaint (``bozo`` false), and which entries,
  with which ids, titles, content types and content, does it find?

Exit 0 when both readers accept the document, 1 when either refuses it.
"""

import json
import sys
import xml.parsers.expat

import feedparser


def main() -> int:
    data = open(sys.argv[1], "rb").read()
    report = {"expat": "ok", "feedparser": "ok", "entries": [], "links": {}}
    parser = xml.parsers.expat.ParserCreate()
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as e:
        report["expat"] = f"not well-formed: {e}"
    feed = feedparser.parse(data)
    if feed.bozo:
        report["feedparser"] = f"bozo: {feed.bozo_exception}"
    for link in feed.feed.get("links", []):
        report["links"].setdefault(link.get("rel", ""), link.get("href"))
    for entry in feed.entries:
        content = (entry.get("content") or [{}])[0]
        report["entries"].append(
            {
                "id": entry.get("id"),
                "title": entry.get("title"),
                "content_type": content.get("type"),
                "content": content.get("value"),
            }
        )
    print(json.dumps(report, ensure_ascii=False))
    return 0 if report["expat"] == "ok" and report["feedparser"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
