"""`make run` in development: the demo doctor can take consultations and the demo courier can go online."""

from __future__ import annotations

from pathlib import Path

from yaodao.accounts.model import Role
from yaodao.accounts.policy import Actor
from yaodao.adapters.db import migrate
from yaodao.bootstrap import bootstrap
from yaodao.care import consult_services as consults
from yaodao.seed import seed
from yaodao.settings import Settings


def test_the_demo_doctor_and_courier_are_ready_to_work_and_seeding_again_adds_nothing(
    db_url: str, tmp_path: Path
) -> None:
    migrate.upgrade(db_url)
    container = bootstrap(
        Settings(env="development", database_url=db_url, wallet_data_dir=tmp_path / "w"), fast_passwords=True
    )
    try:
        first = seed(container, demo_users=True)
        again = seed(container, demo_users=True)
        assert first.users == len(Role)
        assert again.users == 0
        with container.uow(read_only=True) as uow:
            doctor = uow.users.by_email("doctor@demo.yaodao.local")
            courier = uow.users.by_email("courier@demo.yaodao.local")
            assert doctor is not None
            assert courier is not None
            profile = uow.doctors.get(doctor.id)
            rider = uow.couriers.get(courier.id)
            now = uow.clock.now()
            shifts = uow.couriers.shifts_between(courier.id, now, now)
        assert profile is not None
        assert profile[0].verified
        assert rider is not None
        assert rider.city_id == "hangzhou"
        assert len(shifts) == 1  # one shift covers now, so the courier may go online
        queue = consults.doctor_queue(uow=container.uow(), actor=Actor(user_id=doctor.id, roles=doctor.roles))
        assert queue == []  # allowed (a consulting doctor), and nobody is waiting yet
    finally:
        container.close()
