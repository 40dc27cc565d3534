"""Input for eval 2: a FastAPI signup that sends the welcome email fire-and-forget."""

import asyncio

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Signup(BaseModel):
    email: str


async def send_welcome_email(email: str) -> None:
    await asyncio.sleep(2)  # stands in for the mail provider's API call


@app.post("/signup")
async def signup(body: Signup) -> dict:
    asyncio.create_task(send_welcome_email(body.email))  # noqa: RUF006 (the naive pattern: lost on restart or deploy)
    return {"ok": True}
