"""One account's records per source in a store: a token for another account is noticed
before anything of it is read or written.

A store remembers the account its rows of a source came from (a HubSpot portal). A run
whose credential reads another account stops: its ids are that account's own (its "51"
is someone else, and scores pushed by our ids would land on the wrong records), and the
cursors kept for the first account would skip every older record of the second.
`smbml run --switch-account` replaces the first account's records with the second's.
"""

from __future__ import annotations

from smbml_connect.errors import AuthError, SourceFatalError, SourceRetriableError
from smbml_connect.ports import KnowsAccount, Notice, RunResult, Source, SourceAccount
from smbml_connect.store import Store

__all__ = [
    "ACCOUNT_ASSUMED",
    "ACCOUNT_SWITCHED",
    "ACCOUNT_UNKNOWN",
    "AccountNotCheckedError",
    "AccountRefusedError",
    "AnotherAccountError",
    "same_account",
]

ACCOUNT_UNKNOWN = "account_unknown"
ACCOUNT_SWITCHED = "account_switched"
ACCOUNT_ASSUMED = "account_assumed"


class AnotherAccountError(SourceFatalError):
    """The credential reads another account than the one this store's records came from."""


class AccountRefusedError(AuthError):
    """The store holds an account's records and the service refused to say whose the
    credential is (a scope it lacks): nothing is read or written; retrying will not help."""


class AccountNotCheckedError(SourceRetriableError):
    """The store holds an account's records and this run could not tell whose the
    credential is: nothing is read or written (it may be another account's)."""


def same_account(
    source: Source, store: Store, result: RunResult, switch: bool
) -> SourceAccount | None:
    """Check (and on the first run note) the account ``source`` reads. Another account than
    the store's, or one that cannot be told while the store holds an account's records,
    stops the run before anything is read or written. ``switch`` (`--switch-account`)
    replaces the store's records of the source with the account's the credential reads.
    Returns the account the run reads, when the source names one."""
    if not isinstance(source, KnowsAccount):
        return None
    account = source.account()
    kept = store.account_of(source.name)
    if account is None:
        if kept is not None and source.account_refused:
            raise AccountRefusedError(
                f"{source.account_unknown}. This store holds the records of {kept[1]}, and "
                "with another account's token they would mix, so nothing was read or "
                "written until a run can tell whose the token is."
            )
        if kept is not None:
            raise AccountNotCheckedError(
                f"{source.account_unknown}. This store holds the records of {kept[1]}, and "
                "with another account's token they would mix, so nothing was read or "
                "written: run again later."
            )
        result.notices.append(
            Notice(
                ACCOUNT_UNKNOWN,
                "",
                0,
                f"{source.account_unknown}. So this run could not check which account it "
                "reads; a later run that can will remember it.",
            )
        )
        return None
    if switch:
        removed = store.switch_account(source.name, account.key, account.words, result.run_id)
        rows = sum(removed.values())
        if not rows and kept is None:  # a new store: nothing was there to replace
            return account
        before = f"the {rows:,} rows read before" + (f" from {kept[1]}" if kept else "")
        result.notices.append(
            Notice(
                ACCOUNT_SWITCHED,
                "",
                rows,
                f"The token reads {account.words}: {before} were removed from this store, "
                f"with everything computed from them, and {account.words} is read whole.",
            )
        )
        return account
    if kept is None:
        store.keep_account(source.name, account.key, account.words)
        if store.has_rows_of(source.name):  # read by a release that did not note accounts
            result.notices.append(
                Notice(
                    ACCOUNT_ASSUMED,
                    "",
                    0,
                    f"This store's records from {source.name} were read before accounts were "
                    "noted: "
                    f"they are taken to be {account.words}'s, which the token reads. If they "
                    "came from another account, run this `smbml run` command once more with "
                    "--switch-account.",
                )
            )
        return account
    key, words = kept
    if key != account.key:
        raise AnotherAccountError(
            f"The token reads {account.words}, but this store holds the records of {words}: "
            "nothing was read or written. To keep both, give the new account a store of its "
            f"own (--store, or `store =` in its config). To replace {words}'s records with "
            f"{account.words}'s, run this `smbml run` command once more with --switch-account."
        )
    return account
