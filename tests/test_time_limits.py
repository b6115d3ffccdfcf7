"""Time limits on a controllable clock: working days around weekends, the National Day holiday and its 调休 working
Saturday; reminders and escalations at their thresholds; the extension of the investigation; the statement period
and the appeal window lapsing; notifications never naming a reporter; e-mail through a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select

from service.auth import Principal
from service.store.models import Event, Notification, User
from service.web import build_services
from service.workdays import LimitError, WorkCalendar, end_of_day, work_calendar

CST = dt.timezone(dt.timedelta(hours=8))
OFFICE = Principal("office_li", frozenset({"office"}))
OFFICE_SUN = Principal("office_sun", frozenset({"office"}))
MEMBERS = [Principal(m, frozenset({"leading_group"})) for m in ("lg_chen", "lg_wu", "lg_zhou")]
ZHANG = Principal("zhang_wei")
REPORTER = {"name": "钱举报", "contact": "13800009999"}
FINDING = {"person": "zhang_wei", "handler_fault": 5, "severity": "light"}


class Clock:
    """The time the services go by, set by the test."""

    def __init__(self, at: dt.datetime):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def set(self, at: dt.datetime) -> None:
        self.at = at


def day_end(text: str) -> dt.datetime:
    return end_of_day(dt.date.fromisoformat(text))


@pytest.fixture
def clock():
    return Clock(dt.datetime(2026, 9, 16, 9, 0, tzinfo=CST))  # a Wednesday, two weeks before National Day


@pytest.fixture
def svc(database_url, clock):
    services = build_services(database_url, clock=clock)
    yield services
    services.db.dispose()


def tasks(svc, who: Principal, case_id: int, name: str) -> list[dict[str, Any]]:
    return svc.cases.list_tasks(who, filters={"case_id": case_id, "name": name}).items


def step(svc, who: Principal, case_id: int, name: str, data: dict[str, Any]) -> None:
    (task, *_) = tasks(svc, who, case_id, name)
    svc.cases.complete(who, task["id"], data)


def start(svc, channel: str = "inspection") -> int:
    intake = {"channel": channel, "subject": "zhang_wei", "unit": "执法一科", "grounds": [7], "summary": "未按程序送达",
              "act_date": "2026-03-02"}
    if channel == "public_complaint":
        intake.update(reporter=REPORTER, officer="执法一科 张伟")
    return svc.cases.start_case(OFFICE, intake)["id"]


def register(svc, case_id: int) -> None:
    step(svc, OFFICE, case_id, "Task_register", {"register": True, "grounds": [7], "respondents": [
        {"person": "zhang_wei", "role": "handler", "unit": "执法一科"}]})


def investigate(svc, case_id: int) -> None:
    step(svc, OFFICE, case_id, "Task_investigate", {"facts_found": "查明", "evidence": ["案卷"],
                                                    "investigators": ["office_li", "office_sun"],
                                                    "act_date": "2026-03-02"})


def events(svc, case_id: int, kind: str) -> list[dict[str, Any]]:
    with svc.db.session() as s:
        return [e.detail for e in s.scalars(select(Event).where(Event.case_id == case_id, Event.kind == kind)
                                            .order_by(Event.id))]


def notes(svc) -> list[Notification]:
    with svc.db.session() as s:
        return list(s.scalars(select(Notification).order_by(Notification.id)))


# --------------------------------------------------------------------------- the calendar

def test_working_days_skip_weekends_and_holidays_and_count_adjusted_saturdays():
    cal = WorkCalendar()
    # Fri 25 Sep 2026 (the Mid-Autumn Festival) + 7 working days: Mon–Wed, then National Day (1–7 Oct), Thu 8, Fri 9,
    # the 调休 Saturday 10 Oct, and Monday 12 Oct
    assert cal.add_working_days(dt.date(2026, 9, 25), 7) == dt.date(2026, 10, 12)
    assert cal.is_workday(dt.date(2026, 10, 10)) and not cal.is_workday(dt.date(2026, 10, 11))
    assert cal.is_workday(dt.date(2026, 9, 20))  # a Sunday worked before National Day
    assert not cal.is_workday(dt.date(2026, 10, 5))
    # calendar days: a limit whose last day is a holiday ends on the next working day
    assert cal.last_day(dt.date(2026, 9, 16), "P15D") == dt.date(2026, 10, 8)
    assert cal.last_day(dt.date(2026, 1, 31), "P1M") == dt.date(2026, 2, 28)  # a 调休 Saturday: it stands
    assert cal.last_day(dt.date(2026, 3, 31), "P1M") == dt.date(2026, 4, 30)
    # the limit ends at 24:00 Beijing time of its last day
    assert cal.limit_end(dt.datetime(2026, 9, 25, 17, 30, tzinfo=CST), "P7D", "working") == \
        dt.datetime(2026, 10, 12, 23, 59, 59, tzinfo=CST)
    assert cal.limit_end(dt.datetime(2026, 9, 25, 17, 30, tzinfo=CST), "PT3S") == \
        dt.datetime(2026, 9, 25, 17, 30, 3, tzinfo=CST)
    with pytest.raises(LimitError, match="months"):
        cal.last_day(dt.date(2026, 9, 25), "P1M", "working")
    with pytest.raises(LimitError, match="混用了天和小时"):
        cal.limit_end(dt.datetime(2026, 9, 25, tzinfo=CST), "P1DT2H")


def test_the_offices_overrides_close_days_and_open_others(tmp_path, monkeypatch):
    path = tmp_path / "overrides.yaml"
    path.write_text("closed:\n  - {date: 2026-10-12, reason: 台风停工}\nopen:\n  - {date: 2026-10-11, reason: 集中办公}\n",
                    encoding="utf-8")
    monkeypatch.setenv("ACCOUNTABILITY_CALENDAR", str(path))
    cal = work_calendar()
    assert not cal.is_workday(dt.date(2026, 10, 12)) and cal.is_workday(dt.date(2026, 10, 11))
    assert cal.add_working_days(dt.date(2026, 9, 25), 7) == dt.date(2026, 10, 11)
    assert cal.add_working_days(dt.date(2026, 9, 25), 8) == dt.date(2026, 10, 13)
    path.write_text("closed:\n  - {date: 2026-13-01}\n", encoding="utf-8")
    with pytest.raises(LimitError, match=r"closed\[0\] needs a date"):
        work_calendar()  # re-read because it changed; the mistake is named
    # a year without an official schedule yet: Monday to Friday
    assert WorkCalendar().add_working_days(dt.date(2030, 1, 4), 1) == dt.date(2030, 1, 7)


# --------------------------------------------------------------------------- limits in the inbox

def test_due_dates_follow_the_clock_working_days_and_holidays(svc, clock):
    case_id = start(svc)
    [reg] = tasks(svc, OFFICE, case_id, "Task_register")
    # 15 working days from Wed 16 Sep: the 调休 Sunday 20 Sep and Saturday 10 Oct count, the Mid-Autumn Festival
    # (Fri 25 Sep) and National Day (1–7 Oct) do not
    assert dt.datetime.fromisoformat(reg["due"]) == day_end("2026-10-13")
    register(svc, case_id)
    [inv] = tasks(svc, OFFICE, case_id, "Task_investigate")
    # 30 calendar days from registration end on 16 Oct
    assert dt.datetime.fromisoformat(inv["due"]) == day_end("2026-10-16")
    investigate(svc, case_id)
    clock.set(dt.datetime(2026, 9, 25, 17, 30, tzinfo=CST))  # a Friday afternoon
    step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": [FINDING]})
    [statement] = tasks(svc, ZHANG, case_id, "Task_statement")
    # 7 working days: over a weekend, National Day and its 调休 Saturday, to Monday 12 Oct
    assert dt.datetime.fromisoformat(statement["due"]) == day_end("2026-10-12")
    assert svc.cases.next_timer() == day_end("2026-10-12")


def test_a_statement_period_lapses_at_its_limit_and_the_case_goes_on(svc, clock):
    case_id = start(svc)
    register(svc, case_id)
    investigate(svc, case_id)
    clock.set(dt.datetime(2026, 9, 25, 17, 30, tzinfo=CST))
    step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": [FINDING]})
    clock.set(day_end("2026-10-12") - dt.timedelta(seconds=1))
    assert svc.cases.fire_due_timers() == 0
    assert [t["name"] for t in svc.cases.list_tasks(ZHANG).items] == ["Task_statement"]
    clock.set(day_end("2026-10-12") + dt.timedelta(seconds=1))
    assert svc.cases.fire_due_timers() == 1
    assert svc.cases.fire_due_timers() == 0
    assert svc.cases.list_tasks(ZHANG).items == []
    assert len(tasks(svc, MEMBERS[0], case_id, "Task_vote")) == 1  # the waiver is recorded, the group decides
    assert events(svc, case_id, "timer_fired") == [{"timer": "Timer_statement"}]


def test_the_appeal_window_closes_after_30_days_and_the_case_goes_on(svc, clock):
    case_id = start(svc)
    register(svc, case_id)
    investigate(svc, case_id)
    step(svc, OFFICE, case_id, "Task_conclude", {"conclusion": "结论", "findings": [FINDING]})
    step(svc, ZHANG, case_id, "Task_statement", {"statement_waived": True})
    for member in MEMBERS:
        step(svc, member, case_id, "Task_vote", {"vote": "approve", "measure_choices": []})
    clock.set(dt.datetime(2026, 9, 17, 10, 0, tzinfo=CST))  # served on Thursday 17 Sep
    step(svc, OFFICE, case_id, "Task_serve", {"decision_number": "明执追〔2026〕1号", "served_on": "2026-09-17",
                                              "service_method": "direct"})
    [appeal] = tasks(svc, ZHANG, case_id, "Task_appeal")
    # 30 calendar days end on Saturday 17 Oct, a rest day: the window closes at the end of Monday 19 Oct
    assert dt.datetime.fromisoformat(appeal["due"]) == day_end("2026-10-19")
    clock.set(day_end("2026-10-19") - dt.timedelta(seconds=1))
    assert svc.cases.fire_due_timers() == 0
    clock.set(day_end("2026-10-19") + dt.timedelta(seconds=1))
    assert svc.cases.fire_due_timers() == 1
    assert tasks(svc, ZHANG, case_id, "Task_appeal") == []
    assert [t["name"] for t in svc.cases.list_tasks(OFFICE, filters={"case_id": case_id}).items] == ["Task_recovery"]


def test_an_approved_extension_puts_the_new_limit_in_the_inbox_and_a_second_is_refused(svc, clock):
    from service.errors import Invalid

    case_id = start(svc)
    register(svc, case_id)
    [inv] = tasks(svc, OFFICE, case_id, "Task_investigate")
    assert dt.datetime.fromisoformat(inv["due"]) == day_end("2026-10-16")
    clock.set(dt.datetime(2026, 10, 14, 10, 0, tzinfo=CST))
    step(svc, OFFICE, case_id, "Task_investigate", {"request_extension": True, "extension_reason": "需调取外单位档案"})
    assert tasks(svc, OFFICE, case_id, "Task_investigate") == []
    [approval] = tasks(svc, MEMBERS[0], case_id, "Task_approve_investigation_extension")
    assert dt.datetime.fromisoformat(approval["due"]) == day_end("2026-10-19")  # 3 working days (政策)
    step(svc, MEMBERS[1], case_id, "Task_approve_investigation_extension", {"extension_approved": True})
    [again] = tasks(svc, OFFICE, case_id, "Task_investigate")
    # 15 days more: Sat 31 Oct is a rest day, so the new limit ends on Monday 2 Nov
    assert dt.datetime.fromisoformat(again["due"]) == day_end("2026-11-02")
    assert svc.cases.list_tasks(OFFICE, filters={"case_id": case_id}).items[0]["due"] == again["due"]
    with pytest.raises(Invalid) as refused:
        svc.cases.complete(OFFICE, again["id"], {"request_extension": True, "extension_reason": "再次申请"})
    assert "只能延长一次" in refused.value.fields["request_extension"]
    assert tasks(svc, OFFICE, case_id, "Task_investigate")[0]["id"] == again["id"]  # nothing changed
    # the old limit has passed, the new one has not: no reminder
    clock.set(day_end("2026-10-16") + dt.timedelta(days=1))
    assert svc.reminders.run().reminded == 0
    clock.set(day_end("2026-11-02") + dt.timedelta(seconds=1))
    assert svc.reminders.run().reminded == 1


# --------------------------------------------------------------------------- reminders and escalation

def test_an_overdue_task_is_reminded_once_then_escalated_to_the_leading_group(svc, clock):
    case_id = start(svc, "public_complaint")
    due = day_end("2026-10-13")
    clock.set(due - dt.timedelta(seconds=1))
    assert svc.reminders.run().reminded == 0
    clock.set(due + dt.timedelta(seconds=1))
    assert (svc.reminders.run().reminded, svc.reminders.run().reminded) == (1, 0)  # once
    assert sorted(n.username for n in notes(svc)) == ["office_li", "office_sun"]  # the role: nobody claimed it
    [logged] = events(svc, case_id, "reminder_sent")
    assert logged["task"] == "Task_register" and sorted(logged["to"]) == ["office_li", "office_sun"]
    # the second threshold (政策, the diagram's escalateAfter): 3 working days past the limit, Friday 16 Oct
    escalate = day_end("2026-10-16")
    clock.set(escalate - dt.timedelta(seconds=1))
    assert svc.reminders.run().escalated == 0
    clock.set(escalate + dt.timedelta(seconds=1))
    assert (svc.reminders.run().escalated, svc.reminders.run().escalated) == (1, 0)
    escalations = [n for n in notes(svc) if n.kind == "escalation"]
    assert sorted(n.username for n in escalations) == ["lg_chen", "lg_wu", "lg_zhou"]
    assert events(svc, case_id, "escalated")[0]["to"] == ["lg_chen", "lg_wu", "lg_zhou"]
    # never the reporter: not in a notification, its mail, nor the log entries
    text = json.dumps([[n.title, n.person, *svc.reminders.mail_text(n)] for n in notes(svc)], ensure_ascii=False)
    text += json.dumps(events(svc, case_id, "reminder_sent") + events(svc, case_id, "escalated"), ensure_ascii=False)
    assert REPORTER["name"] not in text and REPORTER["contact"] not in text
    assert "Task_register" in text or "立案审查" in text


def test_a_claimed_task_reminds_the_colleague_who_claimed_it_and_a_personal_task_its_assignee(svc, clock):
    case_id = start(svc)
    [reg] = tasks(svc, OFFICE, case_id, "Task_register")
    svc.cases.claim(OFFICE_SUN, reg["id"])
    clock.set(day_end("2026-10-13") + dt.timedelta(seconds=1))
    svc.reminders.run()
    assert [n.username for n in notes(svc)] == ["office_sun"]


def test_marking_notifications_read(svc, clock):
    start(svc)
    clock.set(day_end("2026-10-13") + dt.timedelta(seconds=1))
    svc.reminders.run()
    assert svc.notifications.unread(OFFICE) == 1
    [mine] = svc.notifications.list(OFFICE).items
    assert (mine["kind"], mine["title"], mine["read"]) == ("reminder", "立案审查", False)
    from service.errors import NotFound
    [hers] = svc.notifications.list(OFFICE_SUN).items
    with pytest.raises(NotFound):
        svc.notifications.mark_read(OFFICE, hers["id"])  # someone else's is not found
    assert svc.notifications.mark_read(OFFICE, mine["id"]) == 1
    assert svc.notifications.unread(OFFICE) == 0 and svc.notifications.unread(OFFICE_SUN) == 1
    assert svc.notifications.mark_read(OFFICE_SUN) == 1


# --------------------------------------------------------------------------- e-mail

def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_reminders_are_mailed_through_smtp_once(database_url, clock):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    from service.mail import Mailer, SmtpSettings

    received: list[Any] = []

    class Keep(Message):
        def handle_message(self, message):
            received.append(message)

    port = free_port()
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailer = Mailer(SmtpSettings(host="127.0.0.1", port=port, sender="accountability@mingshan.example"))
        svc = build_services(database_url, clock=clock, mailer=mailer)
        svc.reminders.base_url = "https://accountability.mingshan.example"
        with svc.db.session() as s, s.begin():
            s.scalar(select(User).where(User.username == "office_li")).email = "li@mingshan.example"
        case_id = start(svc, "public_complaint")
        clock.set(day_end("2026-10-13") + dt.timedelta(seconds=1))
        assert svc.reminders.run().mailed == 1  # office_sun has no address: the bell only
        assert svc.reminders.run().mailed == 0  # never twice
        clock.set(clock() + dt.timedelta(hours=1))
        assert svc.reminders.run().mailed == 0
        [mail] = received
        assert mail["To"] == "li@mingshan.example" and mail["From"] == "accountability@mingshan.example"
        from email.header import decode_header, make_header
        subject = str(make_header(decode_header(mail["Subject"])))
        body = mail.get_payload(decode=True).decode("utf-8")
        assert f"案件 {case_id}" in subject and "立案审查" in body and "2026-10-13 23:59" in body
        assert "https://accountability.mingshan.example/tasks/" in body
        assert REPORTER["name"] not in body + subject and REPORTER["contact"] not in body
        with svc.db.session() as s:
            li = s.scalar(select(Notification).where(Notification.username == "office_li"))
            assert li.emailed_at is not None and li.email_attempts == 1 and li.email_error is None
        svc.db.dispose()
    finally:
        controller.stop()


def test_an_unreachable_smtp_server_leaves_the_mail_for_the_next_run(database_url, clock):
    from service.mail import Mailer, SmtpSettings

    port = free_port()  # nothing listens there
    svc = build_services(database_url, clock=clock, mailer=Mailer(SmtpSettings(host="127.0.0.1", port=port,
                                                                              timeout=2)))
    with svc.db.session() as s, s.begin():
        s.scalar(select(User).where(User.username == "office_li")).email = "li@mingshan.example"
    start(svc)
    clock.set(day_end("2026-10-13") + dt.timedelta(seconds=1))
    result = svc.reminders.run()
    assert (result.reminded, result.mailed) == (1, 0)  # the reminder is in the app; the mail waits
    with svc.db.session() as s:
        li = s.scalar(select(Notification).where(Notification.username == "office_li"))
        assert li.emailed_at is None and li.email_attempts == 1 and li.email_error
    assert svc.reminders.run().mailed == 0  # not tried again at once
    with svc.db.session() as s:
        assert s.scalar(select(Notification).where(Notification.username == "office_li")).email_attempts == 1
    svc.db.dispose()
