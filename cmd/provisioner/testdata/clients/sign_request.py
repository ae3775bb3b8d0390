"""Signs one request with the released client's own signer and prints its headers.

Usage: python sign_request.py HOST_AND_PATH BODY [SKEW_SECONDS]

Runs ``sliderule.session.Session.__signrequest`` unchanged (the key comes from
``~/.sliderule_key``, as the client reads it), as production's provisioner.py
does in its local test mode. SKEW_SECONDS shifts the clock the signer reads
(to make an old timestamp). Prints the headers as one JSON object.
"""

import json
import logging
import sys
from datetime import datetime, timedelta

from sliderule import session as sr


def main():
    host_path, body = sys.argv[1], sys.argv[2]
    skew = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if skew:
        class Shifted(datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime.now(tz) + timedelta(seconds=skew)
        sr.datetime = Shifted
    s = sr.Session.__new__(sr.Session)  # the signer needs no login
    s.private_key = sr.Session.PRIVATE_KEY
    s.logger = logging.getLogger("sign_request")
    headers = {}
    s._Session__signrequest(headers, host_path, body)
    print(json.dumps(headers))


if __name__ == "__main__":
    main()
