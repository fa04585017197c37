"""The baseline of bench/verify_http.py: a bare Flask endpoint that only calls `jwt.decode`."""

from __future__ import annotations

import json
import os

import jwt
from flask import Flask, Response, request


def create_bare_app() -> Flask:
    jwk = json.loads(os.environ["BENCH_JWK"])
    alg = jwk["alg"]
    key = jwt.PyJWK(jwk, algorithm=alg).key
    app = Flask(__name__)

    @app.post("/api/v1/verify")
    def verify() -> Response:
        token = request.get_json()["credential"]
        try:
            jwt.decode(token, key, algorithms=[alg], options={"verify_aud": False})
            body = {"verified": True}
        except jwt.PyJWTError:
            body = {"verified": False}
        return Response(json.dumps(body), mimetype="application/json")

    return app
