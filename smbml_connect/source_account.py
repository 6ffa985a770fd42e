"""One account's records per source in a store: a token for another account is noticed
before anything of it is read or written.

A store remembers the account its rows of a source came from (a HubSpot portal). A run
whose credential reads another account stops: its ids are that account's own (its "51"
is someone else, and scores pushed by our ids would land on the wrong records), and the
cursors kept for the first account would skip every older record of the second.
`smbml run --switch-account` replaces the first account's records with the second's.
"""

from __future__ import annotations

from smbml_connect.errors import SourceFatalError
from smbml_connect.ports import KnowsAccount, Notice, RunResult, Source
from smbml_connect.store import Store

__all__ = ["ACCOUNT_SWITCHED", "ACCOUNT_UNKNOWN", "AnotherAccountError", "same_account"]

ACCOUNT_UNKNOWN = "account_unknown"
ACCOUNT_SWITCHED = "account_switched"


class AnotherAccountError(SourceFatalError):
    """The credential reads another account than the one this store's records came from."""


def same_account(source: Source, store: Store, result: RunResult, switch: bool) -> None:
    """Check (and on the first run note) the account ``source`` reads; raise when it is
    another one than the store's, unless ``switch`` says to replace that one's records."""
    if not isinstance(source, KnowsAccount):
        return
    account = source.account()
    if account is None:
        result.notices.append(
            Notice(
                ACCOUNT_UNKNOWN,
                "",
                0,
                f"{source.account_unknown}. So this run could not check that it reads the "
                "account this store's records came from.",
            )
        )
        return
    kept = store.account_of(source.name)
    if kept is None:  # the first run (or a store from before this check): it is this one
        store.keep_account(source.name, account.key, account.words)
        return
    key, words = kept
    if key == account.key:
        return
    if not switch:
        raise AnotherAccountError(
            f"The token reads {account.words}, but this store holds the records of {words}: "
            "nothing was read or written. To keep both, give the new account a store of its "
            f"own (--store, or `store =` in its config). To replace {words}'s records with "
            f"{account.words}'s, run `smbml run --switch-account` once."
        )
    removed = store.switch_account(source.name, account.key, account.words, result.run_id)
    rows = sum(removed.values())
    result.notices.append(
        Notice(
            ACCOUNT_SWITCHED,
            "",
            rows,
            f"The token reads {account.words}: the {rows:,} rows of {words} were removed from "
            f"this store, with what was computed about them, and {account.words} is read whole.",
        )
    )
