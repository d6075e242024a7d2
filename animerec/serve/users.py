"""A user's own endpoints: create, read, rate, erase, and recommendations from their ratings.

``POST /users`` is the only one without a token; every ``/users/{id}…`` call needs the user's
bearer token (:mod:`animerec.serve.auth`), and creating users and writing ratings count against
the client's rate limits (:mod:`animerec.serve.protection`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from animerec.data.ratings import History
from animerec.serve.auth import (
    CurrentUser,
    UserIdPath,
    hash_token,
    new_public_id,
    new_token,
)
from animerec.serve.errors import not_found
from animerec.serve.protection import limit_user_creation, limit_writes
from animerec.serve.routes import (
    AnimeIdPath,
    ExploreQuery,
    FilterQuery,
    KQuery,
    ModelQuery,
    State,
    json_response,
)
from animerec.serve.schemas import (
    InputItem,
    NewUser,
    NewUserIn,
    RatingIn,
    RatingOut,
    RecommendResponse,
    UserOut,
)
from animerec.serve.state import ServeState

AUTH_ERRORS: dict[int | str, dict] = {
    401: {"description": "no bearer token (send the token from POST /users)"},
    429: {"description": "too many writes from this address (see Retry-After)"},
}

router = APIRouter(tags=["users"])


def _user_out(s: ServeState, public_id: str, user_id: int) -> UserOut:
    return UserOut(
        id=public_id,
        ratings=[
            RatingOut(
                anime_id=r.anime_id,
                name=s.summary(r.anime_id)["name"],
                rating=r.rating,
                updated_at=r.updated_at,
            )
            for r in s.store.ratings(user_id)
            if r.anime_id in s.pos_of
        ],
    )


@router.post(
    "/users",
    response_model=NewUser,
    status_code=201,
    dependencies=[Depends(limit_user_creation)],
    responses={429: AUTH_ERRORS[429]},
)
def create_user(request: Request, s: State, body: NewUserIn) -> NewUser:
    """A new user with no ratings (send ``{}``). The answer holds its id and its token — **shown
    once**: send ``Authorization: Bearer <token>`` with every call on ``/users/{id}``."""
    public_id, token = new_public_id(), new_token()
    stored = hash_token(token)
    s.store.create_user(public_id, stored)
    request.app.state.tokens.remember(public_id, stored, token)
    return NewUser(id=public_id, token=token, ratings=[])


@router.get("/users/{user_id}", response_model=UserOut, responses={401: AUTH_ERRORS[401]})
def get_user(s: State, user_id: UserIdPath, uid: CurrentUser) -> UserOut:
    """The user's ratings (never the token)."""
    return _user_out(s, user_id, uid)


@router.delete(
    "/users/{user_id}",
    status_code=204,
    response_class=Response,
    dependencies=[Depends(limit_writes)],
    responses=AUTH_ERRORS,
)
def delete_user(request: Request, s: State, user_id: UserIdPath, uid: CurrentUser) -> Response:
    """Erase the user and every rating of theirs (the token stops working, the export forgets
    them)."""
    s.store.delete_user(uid)
    request.app.state.tokens.forget(user_id)
    return Response(status_code=204)


@router.put(
    "/users/{user_id}/ratings/{anime_id}",
    response_model=RatingOut,
    dependencies=[Depends(limit_writes)],
    responses=AUTH_ERRORS,
)
def put_rating(
    s: State, user_id: UserIdPath, anime_id: AnimeIdPath, body: RatingIn, uid: CurrentUser
) -> RatingOut:
    """Rate an anime 1–10 (replaces an earlier rating)."""
    card = s.summary(anime_id)
    stored, _ = s.store.set_rating(uid, anime_id, body.rating)
    return RatingOut(
        anime_id=anime_id, name=card["name"], rating=stored.rating, updated_at=stored.updated_at
    )


@router.delete(
    "/users/{user_id}/ratings/{anime_id}",
    status_code=204,
    response_class=Response,
    dependencies=[Depends(limit_writes)],
    responses=AUTH_ERRORS,
)
def delete_rating(
    s: State, user_id: UserIdPath, anime_id: AnimeIdPath, uid: CurrentUser
) -> Response:
    if not s.store.delete_rating(uid, anime_id):
        raise not_found(f"user {user_id} has not rated anime {anime_id}")
    return Response(status_code=204)


@router.get(
    "/users/{user_id}/recommendations",
    response_model=RecommendResponse,
    responses={401: AUTH_ERRORS[401]},
)
def user_recommendations(
    s: State,
    user_id: UserIdPath,
    uid: CurrentUser,
    filters: FilterQuery,
    k: KQuery = 10,
    model: ModelQuery = None,
    explore: ExploreQuery = 0.0,
) -> Response:
    """Recommendations from the user's stored ratings (empty until they rate something)."""
    rated = [r for r in s.store.ratings(uid) if r.anime_id in s.pos_of]
    history = History.of([r.anime_id for r in rated], [r.rating for r in rated])
    name, items = s.recommend(history, k, model, explore, filters)
    inputs = [
        InputItem(anime_id=r.anime_id, name=s.summary(r.anime_id)["name"], rating=r.rating)
        for r in rated
    ]
    return json_response(
        RecommendResponse(model=name, k=k, explore=explore, input=inputs, items=items)
    )


__all__ = ["router"]
