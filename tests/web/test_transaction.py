"""idp.web.transaction: what a page writes is committed whole or not at all, on a tiny page
of the test's own that writes a centre and then succeeds, is refused, or breaks."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.errors import InvalidInput
from idp.extensions import db
from idp.languages import say
from idp.models import Organisation
from idp.web.transaction import transaction


def _centre(code: str) -> None:
    db.session.add(Organisation(code=code, name="Half-written", brand="cambridge-international"))
    db.session.flush()  # written to the database, inside the transaction


@pytest.fixture
def page(app: Flask) -> FlaskClient:
    bp = Blueprint("transaction_test", __name__)

    @bp.get("/transaction-test/<outcome>")
    def act(outcome: str) -> tuple[str, int]:
        try:
            with transaction(InvalidInput) as tx:
                _centre("TX001")
                if outcome == "refused":
                    raise InvalidInput("That centre number is taken.")
                if outcome == "broken":
                    raise RuntimeError("the disk is full")
        except RuntimeError:
            # It reached the page; a later transaction in the same request commits only its own.
            with transaction():
                _centre("TX003")
            return "propagated", 500
        if tx.error is not None:
            with transaction():  # as sign-in records a refused password after the refusal
                _centre("TX002")
            return say(tx.error), 400
        return "saved", 200

    app.register_blueprint(bp)
    return app.test_client()


def _centres() -> set[str]:
    db.session.remove()
    return set(db.session.scalars(select(Organisation.code)))


def test_success_commits_what_the_page_wrote(page: FlaskClient) -> None:
    response = page.get("/transaction-test/saved")
    assert response.status_code == 200
    assert _centres() == {"TX001"}


def test_a_refusal_rolls_back_and_the_page_shows_it(page: FlaskClient) -> None:
    response = page.get("/transaction-test/refused")
    assert response.status_code == 400
    assert response.text == "That centre number is taken."
    # Nothing of the refused action is left, even though the request committed later.
    assert _centres() == {"TX002"}


def test_another_exception_rolls_back_and_propagates(page: FlaskClient) -> None:
    response = page.get("/transaction-test/broken")
    assert (response.status_code, response.text) == (500, "propagated")
    assert _centres() == {"TX003"}


def test_a_refusal_of_a_kind_not_named_propagates(app: Flask) -> None:
    with app.test_request_context(), pytest.raises(InvalidInput):
        with transaction():
            _centre("TX004")
            raise InvalidInput("Not expected here.")
    assert _centres() == set()


def test_transactions_do_not_nest(app: Flask) -> None:
    with app.test_request_context():
        with pytest.raises(RuntimeError, match="already open"), transaction():
            _centre("TX005")
            with transaction():
                pass
        with transaction():  # closed again: the request can open the next one
            _centre("TX006")
    assert _centres() == {"TX006"}
