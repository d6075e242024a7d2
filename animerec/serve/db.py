"""Feedback storage: API users and their 1–10 ratings, through SQLAlchemy so any database works.

The default is a SQLite file in the workspace (``WS/feedback.db``) in WAL mode, so readers never
block the writer; ``--db postgresql+psycopg://…`` points the same code at PostgreSQL. Ratings are
exported in the Kaggle ``rating_complete.csv`` layout with API user ids moved past every MAL user
id (:data:`API_USER_OFFSET`), so feedback can be appended to the MAL ratings for the next
labels / fine-tuning run without two people sharing an id.

A user has two ids: the database's integer ``id`` (what the export writes, never shown to a
client) and an unguessable ``public_id`` (what the API shows), plus ``token_hash``, the scrypt
hash of the user's bearer token (see :mod:`animerec.serve.auth`); neither is ever exported.
Databases from before those columns gain them on open (:func:`migrate`): their users keep their
ratings (exported as before) but have no token, so no API call can reach them.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from animerec.workspace import Workspace, atomic_path

FEEDBACK_DB = "feedback.db"
API_USER_OFFSET = 1_000_000_000
"""Added to an API user's id on export: MAL user ids in the 2020 dump stay below 400,000."""


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    public_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    token_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)


PUBLIC_ID_INDEX = Index("ix_users_public_id", User.public_id, unique=True)


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 10", name="rating_1_10"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    anime_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rating: Mapped[int] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


@dataclass(frozen=True)
class StoredRating:
    user_id: int
    anime_id: int
    rating: int
    updated_at: datetime


def default_url(workspace: Workspace) -> str:
    return f"sqlite:///{(workspace.root / FEEDBACK_DB).resolve()}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    is_sqlite = url.startswith("sqlite")
    if is_sqlite and ":///" in url and not url.endswith(":memory:"):
        Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"connect_args": {"check_same_thread": False, "timeout": 30}} if is_sqlite else {}
    engine = create_engine(url, pool_pre_ping=not is_sqlite, **kwargs)
    if is_sqlite:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - exercised via engine use
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    return engine


def migrate(engine: Engine) -> list[str]:
    """Add the columns a database from an older version lacks; returns the ones added.

    Only additions (nullable columns, the unique index), so an old reader of the same file
    still works and nothing is rewritten.
    """
    have = {c["name"] for c in inspect(engine).get_columns("users")}
    added = [c for c in ("public_id", "token_hash") if c not in have]
    with engine.begin() as conn:
        for col in added:
            kind = User.__table__.c[col].type.compile(engine.dialect)
            conn.execute(text(f"ALTER TABLE users ADD COLUMN {col} {kind}"))
    PUBLIC_ID_INDEX.create(engine, checkfirst=True)
    return added


class FeedbackStore:
    """The repository the API talks to: users, ratings, export. Each method is one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        migrate(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def for_workspace(cls, workspace: Workspace, url: str | None = None) -> FeedbackStore:
        return cls(url or default_url(workspace))

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return self._session()

    # --- users -----------------------------------------------------------------------------------
    def create_user(self, public_id: str | None = None, token_hash: str | None = None) -> int:
        """A new user; returns the database id (``public_id`` and ``token_hash`` from auth)."""
        with self.session() as s, s.begin():
            user = User(public_id=public_id, token_hash=token_hash)
            s.add(user)
            s.flush()
            return int(user.id)

    def user_exists(self, user_id: int) -> bool:
        with self.session() as s:
            return s.get(User, user_id) is not None

    def credentials(self, public_id: str) -> tuple[int, str] | None:
        """``(database id, token hash)`` of the user with ``public_id``; None if none has a token."""
        with self.session() as s:
            row = s.execute(
                select(User.id, User.token_hash).where(User.public_id == public_id)
            ).first()
            if row is None or row[1] is None:
                return None
            return int(row[0]), str(row[1])

    def delete_user(self, user_id: int) -> int:
        """Erase a user and every rating of theirs (one transaction); returns the ratings erased."""
        with self.session() as s, s.begin():
            n = s.execute(delete(Rating).where(Rating.user_id == user_id)).rowcount
            s.execute(delete(User).where(User.id == user_id))
            return int(n or 0)

    # --- ratings ---------------------------------------------------------------------------------
    def set_rating(self, user_id: int, anime_id: int, rating: int) -> tuple[StoredRating, bool]:
        """Insert or replace a rating; returns it and whether it was new."""
        if not 1 <= rating <= 10:
            raise ValueError(f"rating must be 1..10, got {rating}")
        for attempt in (1, 2):
            try:
                with self.session() as s, s.begin():
                    row = s.get(Rating, (user_id, anime_id))
                    created = row is None
                    if row is None:
                        row = Rating(
                            user_id=user_id, anime_id=anime_id, rating=rating, updated_at=_now()
                        )
                        s.add(row)
                    else:
                        row.rating, row.updated_at = rating, _now()
                    s.flush()
                    return _stored(row), created
            except IntegrityError:
                # Two requests inserted the same rating at once (a double click): the second
                # one finds the row on its retry and updates it. A missing user stays an error.
                if attempt == 2 or not self.user_exists(user_id):
                    raise
        raise AssertionError("unreachable")

    def set_ratings(self, user_id: int, ratings: dict[int, int]) -> int:
        """Insert or replace many ratings of one user in one transaction (an imported list:
        a thousand ratings in one commit instead of a thousand); returns how many were new."""
        bad = {a: r for a, r in ratings.items() if not 1 <= r <= 10}
        if bad:
            raise ValueError(f"ratings must be 1..10, got {bad}")
        with self.session() as s, s.begin():
            rows = s.query(Rating).filter(Rating.user_id == user_id).all()
            have = {row.anime_id: row for row in rows}
            now = _now()
            for anime_id, rating in ratings.items():
                row = have.get(anime_id)
                if row is None:
                    s.add(Rating(user_id=user_id, anime_id=anime_id, rating=rating, updated_at=now))
                else:
                    row.rating, row.updated_at = rating, now
            return sum(a not in have for a in ratings)

    def delete_rating(self, user_id: int, anime_id: int) -> bool:
        """Remove a rating; False when there was none."""
        with self.session() as s, s.begin():
            res = s.execute(
                delete(Rating).where(Rating.user_id == user_id, Rating.anime_id == anime_id)
            )
            return res.rowcount > 0

    def ratings(self, user_id: int) -> list[StoredRating]:
        """One user's ratings, oldest change first."""
        with self.session() as s:
            rows = s.scalars(
                select(Rating)
                .where(Rating.user_id == user_id)
                .order_by(Rating.updated_at, Rating.anime_id)
            )
            return [_stored(r) for r in rows]

    def count(self) -> tuple[int, int]:
        """(users, ratings) stored."""
        with self.session() as s:
            users = s.scalar(select(func.count()).select_from(User)) or 0
            ratings = s.scalar(select(func.count()).select_from(Rating)) or 0
            return int(users), int(ratings)

    def iter_ratings(self, batch: int = 10_000) -> Iterator[tuple[int, int, int]]:
        """Every stored ``(user_id, anime_id, rating)``, ordered like ``rating_complete.csv``."""
        with self.session() as s:
            q = select(Rating.user_id, Rating.anime_id, Rating.rating).order_by(
                Rating.user_id, Rating.anime_id
            )
            for row in s.execute(q.execution_options(yield_per=batch)):
                yield int(row[0]), int(row[1]), int(row[2])

    def export_csv(self, out: str | os.PathLike[str], *, user_offset: int = API_USER_OFFSET) -> int:
        """Write ``user_id,anime_id,rating`` (the Kaggle layout) atomically; returns the row count."""
        n = 0
        with atomic_path(out) as tmp, tmp.open("w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["user_id", "anime_id", "rating"])
            for user, anime, rating in self.iter_ratings():
                w.writerow([user + user_offset, anime, rating])
                n += 1
        return n


def _stored(r: Rating) -> StoredRating:
    ts = r.updated_at if r.updated_at.tzinfo else r.updated_at.replace(tzinfo=UTC)
    return StoredRating(int(r.user_id), int(r.anime_id), int(r.rating), ts)
