#!/usr/bin/env python3
"""Generate N videos (and their users) as msp JSONL and the same rows as CSV.

usage: gen.py N OUT_DIR
writes OUT_DIR/videos.jsonl (users first, then videos) and OUT_DIR/videos.csv
"""
import json
import random
import sys

GENRES = ["action", "adventure", "animation", "biography", "comedy", "crime",
          "documentary", "drama", "family", "fantasy", "history", "horror",
          "kids", "music", "musical", "mystery", "news", "reality", "romance",
          "sci-fi", "sport", "talk", "thriller", "war", "western"]
LANGS = ["en", "hi", "ta", "te", "ml", "kn", "bn", "mr", "es", "fr"]
WORDS = ("river ocean night city storm light shadow dream fire road house "
         "garden winter summer song dance story secret journey island").split()
B32 = "0123456789abcdefghjkmnpqrstvwxyz"


def msp_id(ms, rnd):
    v = (ms << 80) | rnd
    return "".join(B32[(v >> (5 * (25 - i))) & 31] for i in range(26))


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    rng = random.Random(42)
    users = [f"user{i}@example.com" for i in range(1000)]
    base = 1767225600000  # 2026-01-01
    with open(f"{out}/videos.jsonl", "w") as js, open(f"{out}/videos.csv", "w") as cs:
        for i, u in enumerate(users):
            js.write(json.dumps({"type": "user", "v": 1,
                                 "id": msp_id(base - 100000 + i, rng.getrandbits(80)),
                                 "email": u, "role": "user",
                                 "createdAt": "2025-12-31T00:00:00.000Z"},
                                separators=(",", ":")) + "\n")
        for i in range(n):
            ms = base + i * 10
            vid = msp_id(ms, rng.getrandbits(80))
            title = " ".join(rng.choice(WORDS) for _ in range(3)).title()
            about = " ".join(rng.choice(WORDS) for _ in range(12))
            lang = rng.choice(LANGS)
            genres = rng.sample(GENRES, rng.randint(1, 3))
            prem = rng.random() < 0.2
            user = users[i % len(users)]
            sec, msec = divmod(ms, 1000)
            import datetime
            t = datetime.datetime.fromtimestamp(sec, datetime.timezone.utc)
            ts = t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % msec
            js.write(json.dumps({"type": "video", "v": 1, "id": vid,
                                 "videoType": "long", "title": title,
                                 "about": about, "language": lang,
                                 "genres": genres, "isPremium": prem,
                                 "uploadedBy": user, "status": "ready",
                                 "createdAt": ts, "updatedAt": ts},
                                separators=(",", ":")) + "\n")
            cs.write(",".join([vid, "long", title, about, lang, "|".join(genres),
                               "1" if prem else "0", user, "ready", ts]) + "\n")


main()
