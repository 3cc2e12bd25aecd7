"""In Chromium, three people in three browser contexts: a patient consults, a doctor answers over the chat and
prescribes (signing on their own device), the patient checks the prescription out and pays, and a pharmacist
approves it; the patient's order is then approved for the pharmacy."""

from __future__ import annotations

import re
import uuid
from datetime import date

from playwright.sync_api import Browser, expect

from browser_session import signed_in_page
from factories import product_body
from support import PASSWORD, Platform, screenshot
from yaodao.accounts.model import Role, User
from yaodao.care.doctors import Doctor
from yaodao.kernel.ids import new_id


def _amlodipine_at_the_pharmacists_shop(platform: Platform) -> str:
    """An Rx product stocked at the pharmacy the test pharmacist works in."""
    admin = platform.auth(Role.ADMIN)
    made = platform.client.post(
        "/api/admin/products",
        json=product_body(
            drug_class="rx", generic_name_zh="苯磺酸氨氯地平片", generic_name_en="Amlodipine Besylate Tablets",
            ingredients=[{"inn": "amlodipine", "name_zh": "氨氯地平", "amount": 5, "unit": "mg"}],
            categories=["hypertension", "cardiovascular"], min_age_years=None, price_fen=2600,
        ),
        headers=admin,
    )  # fmt: skip
    assert made.status_code == 201, made.text
    product_id: str = made.json()["id"]
    stocked = platform.client.put(
        f"/api/admin/pharmacies/{platform.pharmacy_id}/stock/{product_id}", json={"quantity": 20}, headers=admin
    )
    assert stocked.status_code == 200, stocked.text
    platform.container.relay.drain()
    return product_id


def _patient(platform: Platform) -> User:
    """A patient whose real name is verified (the identity provider's part, done here by the test)."""
    user = User(
        id=new_id(), email=f"pt-{uuid.uuid4().hex[:8]}@e2e.yaodao.local", display_name="李先生",
        password_hash=platform.container.passwords.hash(PASSWORD), roles=frozenset({Role.PATIENT}),
        date_of_birth=date(1968, 5, 1), sex="m", id_number_hash=f"id-{uuid.uuid4().hex}",
        current_medicines=("氨氯地平",),
    )  # fmt: skip
    with platform.container.uow() as uow:
        uow.users.add(user, platform.clock.now())
        uow.commit()
    return user


def _cardiologist(platform: Platform) -> User:
    now = platform.clock.now()
    user = User(
        id=new_id(), email=f"dr-{uuid.uuid4().hex[:8]}@e2e.yaodao.local", display_name="王医生",
        password_hash=platform.container.passwords.hash(PASSWORD), roles=frozenset({Role.DOCTOR}),
    )  # fmt: skip
    with platform.container.uow() as uow:
        uow.users.add(user, now)
        uow.doctors.add(
            Doctor(
                id=user.id, licence_no=f"33{uuid.uuid4().hex[:12]}", hospital="浙江省人民医院", province="zhejiang",
                city="hangzhou", departments=("cardiology", "internal_medicine"), languages=("zh",), verified=True,
                years_practising=15, max_concurrent=5,
            ),
            now,
        )  # fmt: skip
        uow.commit()
    return user


def test_a_patient_consults_a_doctor_prescribes_the_patient_checks_out_and_a_pharmacist_approves(
    browser: Browser, live_server: str, platform: Platform
) -> None:
    product_id = _amlodipine_at_the_pharmacists_shop(platform)
    with platform.container.uow(read_only=True) as uow:
        shop = uow.pharmacies.get(platform.pharmacy_id)
    assert shop is not None
    home = (shop.location.lat + 0.002, shop.location.lng + 0.002)
    doctor_user = _cardiologist(platform)
    patient_user = _patient(platform)

    # The patient describes a diagnosed condition: a follow-up, queued for a doctor.
    patient = signed_in_page(browser, live_server, patient_user.email)
    patient.goto(live_server + "/consult")
    patient.get_by_label("哪里不舒服？ What is the problem?").fill(
        "高血压三年了，一直吃氨氯地平，血压控制可以，想复诊续药"
    )
    patient.get_by_label("年龄（岁） Age (years)").fill("58")
    patient.get_by_label("性别 Sex").select_option("m")
    patient.get_by_label("诊断 Diagnosis").fill("高血压")
    patient.get_by_label("医院 Where").fill("杭州市第一人民医院")
    patient.get_by_label("时间 When").fill("2023-04")
    patient.get_by_role("button", name="开始问诊 Start the consultation").click()
    expect(patient).to_have_url(re.compile(r"/consultations/[0-9a-f-]+$"))
    consultation_url = patient.url
    expect(patient.locator("#consultation")).to_have_attribute("data-status", "waiting")

    # The doctor takes it from the queue and they talk over the chat, live on both sides.
    doctor = signed_in_page(browser, live_server, doctor_user.email)
    doctor.goto(live_server + "/doctor")
    doctor.locator("#queue li").filter(has_text="cardiology").first.get_by_role("button", name="接诊 Accept").click()
    expect(doctor).to_have_url(consultation_url)
    expect(doctor.locator("#chat-state")).to_contain_text("connected")
    patient.reload()
    expect(patient.locator("#consultation")).to_have_attribute("data-status", "active")
    expect(patient.locator("#chat-state")).to_contain_text("connected")
    doctor.get_by_label("消息 Message").fill("您好，最近血压多少？")
    doctor.get_by_role("button", name="发送 Send").click()
    expect(patient.locator("#messages li.theirs")).to_have_text(["您好，最近血压多少？"])
    patient.get_by_label("消息 Message").fill("早上130/85左右")
    patient.get_by_role("button", name="发送 Send").click()
    expect(doctor.locator("#messages li.theirs")).to_have_text(["早上130/85左右"])

    # The doctor makes a signing key on their device and signs the prescription there.
    doctor.get_by_role("button", name=re.compile("创建签名密钥")).click()
    expect(doctor.locator("#rx-key")).to_contain_text("This device has a signing key")
    doctor.get_by_label("药品通用名 Drug (INN)").fill("amlodipine")
    doctor.get_by_label("商品编号（可选） Product id (optional)").fill(product_id)
    doctor.get_by_label("用法用量 Dose").fill("5mg qd")
    doctor.get_by_label("天数 Days of supply").fill("7")
    doctor.get_by_role("button", name="签名并开具 Sign and issue").click()
    expect(doctor.locator("#rx-state")).to_contain_text("prescription issued")
    expect(doctor.locator("#prescriptions li.rx")).to_have_count(1)
    screenshot(doctor, "consult-doctor-prescribed")

    # The patient puts the prescription in the cart in one step, checks out and pays at the wallet.
    patient.reload()
    patient.locator("#prescriptions").get_by_role("button", name="加入购物车 Add to cart").click()
    expect(patient).to_have_url(re.compile(r"/cart$"))
    patient.goto(f"{live_server}/cart?lat={home[0]}&lng={home[1]}")
    expect(patient.locator(".cart-line")).to_have_count(1)
    patient.get_by_label("详细地址 Street address").fill("西湖区某路1号")
    patient.locator("input[name=rx_risk_acknowledged]").check()
    screenshot(patient, "consult-patient-cart")
    patient.get_by_role("button", name="结算全部 Check out everything").click()
    expect(patient).to_have_url(re.compile(r"/orders/[0-9a-f-]+$"))
    order_url = patient.url
    patient.get_by_role("button", name=re.compile("去付款 Pay")).click()
    patient.get_by_role("button", name="确认付款 Pay").click()
    expect(patient).to_have_url(order_url)
    expect(patient.locator("#order")).to_have_attribute("data-status", "awaiting_review")

    # The pharmacist reviews the prescription and approves.
    pharmacist = signed_in_page(browser, live_server, platform.users[Role.PHARMACIST].email)
    pharmacist.goto(live_server + "/pharmacy/review")
    order_id = order_url.rsplit("/", 1)[1]
    review = pharmacist.locator(f"#review-{order_id}")
    expect(review.locator(".prescription")).to_contain_text("amlodipine")
    holds = review.locator("select[name=resolution]")
    for n in range(holds.count()):  # e.g. her current medicine is not in the interaction source: counselled
        holds.nth(n).select_option("patient_counselled")
    review.get_by_role("button", name="通过 Approve").click()
    expect(pharmacist.locator("#reviewed")).to_contain_text("approved")
    patient.reload()
    expect(patient.locator("#order")).to_have_attribute("data-approved", "true")
    expect(patient.locator("#approved")).to_be_visible()
    screenshot(patient, "consult-patient-order-approved")
