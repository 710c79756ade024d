"""Weekly digest: the time to compute and render one weekly digest over a year of history.

The digest is the one job in maild that reads everything: `maild.report.build` walks every
ticket's events (five periods of metrics: the week and the four before it, for the trend), reads
the customers' first messages for hot topics and near-duplicate clusters, and
`maild.notify.digest.render` turns that into HTML and text, once per recipient language. The issue
asks for it over a year of history (100,000 tickets, about 400,000 messages) in under 5 seconds.

The store is built directly through the Store API (allocate_ticket_number, add_ticket,
add_message, a commit every few thousand tickets, a compaction at the end), not through intake,
which would take hours and measure intake (bench/ingest.py covers that). What it holds is what a
year of intake, agents, customers and a sweep every minute would have left behind:
  - the year before NOW = Monday 2026-11-23 09:00 Asia/Shanghai, the weekly digest's slot; the
    digest reports ISO week 2026-W47 (Nov 16-22) against the four weeks before;
  - N tickets (default 100,000) opened over 52 weeks with a daily rhythm (office hours in China),
    a weekly one (Monday busiest, weekends quiet), quiet Spring Festival, Labour Day and National
    Day holidays, and 50 % growth over the year; priorities about 10 / 30 / 60 % urgent /
    important / general, categories billing, login, outage, shipping, account, refund,
    sensitive and general, routed to the teams support, billing, tech and logistics;
  - each ticket's history as sla_sweep's tickets have it (opened, acknowledged, team_notified,
    paged, customer_message, agent_reply by one of 12 configured agents with the assign that
    goes with it, status new/open/pending), then carried on: resolved, confirmed and closed by the
    customer or closed by maild after 5 days of silence (a few closed by an agent), some reopened,
    satisfaction surveys (at most one per customer per 30 days) with a 1-5 rating and comments
    from about a third of those asked, archived 90 days after closing; some priority and category
    changes, reassignments and internal comments; a few complaints_alert events (the real
    rule: 2 complaints or 5 tickets from one customer within 7 days) and about 1 % duplicates
    merged into the customer's earlier ticket. Before every step the update_sent and notice
    events a sweep running every minute would have added are caught up (sla_sweep._catch_up), so
    breaches, warnings, escalations and updates follow from the SLA policies themselves;
  - about 4 stored messages per ticket, with the fields ingest stores: the customer's first
    mail (first_message_id), their later mails, and the agents' mails to maild. First mails come
    from 99 templates (8 categories; 51 Chinese, also sent in Traditional characters by a sixth
    of the Chinese customers, through OpenCC, and 48 English), each retold: some of its clauses,
    3-4 sentences of the customer's circumstances, varying products, errors, order numbers,
    greetings, signatures, "Sent from my iPhone" lines and quoted history (word for word, a
    template would make every week's tickets of one kind near-duplicates). Plus four topics that
    rise only in the reported week, in short, alike mails as mass reports are (a cloud-sync
    outage, an app crash after an update, WeChat Pay double charges, e-invoice downloads in
    Traditional Chinese), so hot topics and clusters have something real to find;
  - raw files and attachments are referenced, not written (the digest never reads them), and
    the outbox is left empty (it would hold the mails maild sent; the digest does not read it,
    but loading it would add to the load time and the resident memory).
The build runs in a child process, so this process's memory figures are the measurement's own,
and is cached (in the temp directory, keyed by the arguments and the generator's version, or in
--keep DIR), so the next run starts at the measurement.

Then, on the store opened from disk (Store.open, timed, read-only as `maild digest` opens it;
the daemon has it loaded already, so it is context, not part of the target) and collected once
(gc.collect, untimed: in a daemon the store sits in the oldest generation):
  1. one digest in this fresh process (cold: jieba's dictionary, the stop words, the Jinja
     templates and the calendars' per-year caches are built on first use), then the median of
     --rounds more (what a daemon that has run before sees): build(...) for 2026-W47 plus
     render(...) in zh and in en, split into metrics (relevant() + five measure() calls),
     documents (the first messages' texts), hot topics, clusters, the rest of build (figures,
     notes), and each rendering, with the time spent in garbage collection along the way;
  2. the tracemalloc peak of one build + render (an extra round: tracing slows it), above the
     loaded store, and the process's RSS (with the store loaded, and its high-water mark);
  3. a sanity summary of the digest's figures, so a reader can see that they are plausible.
--profile adds cProfile's top 15 of one build + render.

    python bench/digest.py [--tickets N] [--rounds R] [--keep DIR] [--rebuild] [--profile]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import logging
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import opencc

import maild.report
from bench.sla_sweep import (
    _at,
    _between,
    _catch_up,
    _insert,
    _Probe,
    config_data,
    current_rss_mib,
    in_child,
    ms,
    profile,
    rss_mib,
)
from maild.classify import team_for
from maild.clock import iso
from maild.config import Agent, Config, parse_config
from maild.notify.digest import Rendered, render
from maild.periods import Period, week_of
from maild.report import Report
from maild.sla import DONE_STATUSES, Policy
from maild.store import Store
from maild.threader import ticket_id
from maild.tickets import event, next_check_at

GENERATOR = 4  # bump when the generated store changes: cached stores of older ones are rebuilt
SUPPORT = "support@bench.example"
ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=ZONE)  # a Monday 09:00: the weekly digest's slot
START = datetime(2025, 11, 24, tzinfo=ZONE)  # the Monday 52 weeks before
TARGET_SECONDS = 5.0
COMMIT_EVERY = 5_000  # tickets per commit, as a daemon commits many small batches
MERGE_WINDOW = timedelta(hours=36)  # a duplicate comes within this of the ticket it repeats
HOLD = timedelta(days=2)  # tickets stay in memory this long after opening: merges may touch them
AUTOCLOSE = timedelta(days=5)  # [lifecycle] defaults
REOPEN_WITHIN = timedelta(days=30)
ARCHIVE_AFTER = timedelta(days=90)
SURVEY_EVERY = timedelta(days=30)
COMPLAINT_WINDOW = timedelta(days=7)  # [complaints] defaults: 5 tickets or 2 complaints
STUCK = 0.004  # tickets waiting weeks on a supplier: the backlog's old end
QUICK = 0.35  # questions answered and resolved in the first reply

# --- the organisation: agents, teams, the config ---------------------------------------------

AGENTS = (  # key, name, address local part, team
    ("lina", "李娜", "li.na", "support"),
    ("zhangwei", "张伟", "zhang.wei", "support"),
    ("wangfang", "王芳", "wang.fang", "support"),
    ("chenjie", "陈杰", "chen.jie", "support"),
    ("tom", "Tom Baker", "tom.baker", "support"),
    ("liuyang", "刘洋", "liu.yang", "billing"),
    ("zhaomin", "赵敏", "zhao.min", "billing"),
    ("sunhao", "孙浩", "sun.hao", "tech"),
    ("zhoulei", "周磊", "zhou.lei", "tech"),
    ("anna", "Anna Schmidt", "anna.schmidt", "tech"),
    ("huangli", "黄丽", "huang.li", "logistics"),
    ("wuqiang", "吴强", "wu.qiang", "logistics"),
)
TEAM_CATEGORIES = {"support": [], "billing": ["billing", "refund"], "tech": ["outage"]}
TEAM_CATEGORIES["logistics"] = ["shipping"]
LEADS = {team: f"{team}.lead@bench.example" for team in TEAM_CATEGORIES}


def config_for(data: Path) -> Config:
    """sla_sweep's config with four teams with leads and their agents as [agents.KEY] (so agent
    load resolves names), and a digest to a Chinese and an English list."""
    tables = config_data(data)
    tables["teams"] = {
        team: {
            "address": [f"{a[2]}@bench.example" for a in AGENTS if a[3] == team],
            "lead": LEADS[team],
            **({"categories": categories} if categories else {}),
        }
        for team, categories in TEAM_CATEGORIES.items()
    }
    tables["agents"] = {
        key: {"address": f"{local}@bench.example", "name": name, "team": team}
        for key, name, local, team in AGENTS
    }
    tables["security"] = {"authserv_id": "mx.bench.example"}
    tables["digest"] = {
        "recipients": ["leadership@bench.example"],
        "language": "zh",
        "lists": [{"recipients": ["regional.leads@bench.example"], "language": "en"}],
    }
    return parse_config(tables)


# --- what customers write ---------------------------------------------------------------------

# (subject, body) per category and language; {product}, {error}, {order}, {amount}, {phone},
# {city}, {version} and {date} are filled in per ticket. Chinese ones are written in Simplified
# characters; Traditional-writing customers send them through OpenCC (s2twp).
TEMPLATES: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "billing": {
        "zh": (
            ("发票抬头开错了", "上周购买的{product}开的发票抬头有误，应该是我们公司的全称，"
             "麻烦帮忙重新开具增值税专用发票。订单号 {order}。"),
            ("申请开具增值税专用发票", "我们公司需要{product}订单 {order} 的增值税专用发票，"
             "税号和开户行信息见下方，请问多久可以开好？"),
            ("会员费被多扣了一次", "我的{product}是自动续费，这个月银行卡被扣了两笔 {amount} 元，"
             "只应该扣一次，请核实并退回多扣的费用。"),
            ("付款成功但订单显示未支付", "我用支付宝付款 {amount} 元已经成功扣款，"
             "但是订单 {order} 还是显示待支付，请帮忙查一下。"),
            ("纸质发票什么时候寄出", "订单 {order} 申请的纸质发票已经过去两周了还没有收到，"
             "请问快递单号是多少？"),
            ("对账单金额不对", "本月对账单上{product}的服务费和合同价格不一致，差了 {amount} 元，"
             "请财务核对一下。"),
            ("如何修改付款方式", "想把自动续费从信用卡改成银行转账，在设置里找不到入口，"
             "请问应该怎么操作？"),
        ),
        "en": (
            ("Invoice shows the wrong company name", "The invoice for order {order} "
             "({product}) has our old company name on it. Could you reissue it with our correct "
             "legal name and VAT number?"),
            ("Charged twice for my subscription", "My card was charged {amount} twice this "
             "month for the {product} subscription. Please refund the duplicate charge."),
            ("Payment went through but order still unpaid", "I paid {amount} by credit card "
             "and the money has left my account, but order {order} still says awaiting payment."),
            ("Copies of last year's invoices", "For our annual audit I need copies of all "
             "invoices for our account from last year. Can you send them as PDF files?"),
            ("How do I change my billing address?", "We moved offices and need to update the "
             "billing address on our account before the next invoice is issued."),
            ("Unexpected price increase on renewal", "Our {product} renewal invoice is "
             "{amount} higher than last year. Nobody told us about a price change. "
             "Please explain."),
        ),
    },
    "login": {
        "zh": (
            ("无法登录账号", "今天早上开始登录一直提示密码错误，但我确定密码没错，"
             "重置密码也收不到短信验证码。手机号 {phone}。"),
            ("收不到验证码", "登录的时候点击获取验证码，等了十分钟都没有收到短信，"
             "换了网络也一样，请帮忙看看。"),
            ("账号被锁定了", "输错几次密码之后账号被锁定了，提示 {error}，"
             "请问多久能解锁，或者能不能人工解锁？"),
            ("扫码登录失败", "用手机扫码登录网页版，扫完之后页面一直转圈，"
             "最后提示登录超时。电脑和手机都试过了。"),
            ("登录后白屏", "{product}升级到 {version} 以后，登录进去就是白屏，"
             "卸载重装也没有用。手机型号是华为 Mate 60。"),
            ("两步验证换了手机怎么办", "我换了新手机，原来绑定的身份验证器没有了，"
             "现在登录需要动态码，请问怎么重新绑定？"),
            ("登录页面打不开", "网页版登录页面一直打不开，报错 {error}，"
             "公司里其他同事也是这样。"),
        ),
        "en": (
            ("Can't log in to my account", "Since this morning I get 'invalid password' when I "
             "log in, although the password is correct. The reset email never arrives either."),
            ("Verification code never arrives", "When I try to log in the SMS verification "
             "code never arrives. I have tried several times over the last hour."),
            ("Account locked after failed attempts", "My account got locked after a few failed "
             "login attempts and now shows error {error}. How can I unlock it?"),
            ("Lost my phone with the authenticator app", "I lost my phone and with it the "
             "two-factor authenticator. How can I get back into my account?"),
            ("Login page keeps loading", "The login page loads forever and then times out "
             "with {error}. I tried Chrome and Firefox, same result."),
            ("SSO login stopped working", "Our team uses single sign-on and since yesterday "
             "everyone gets redirected back to the login page in a loop."),
        ),
    },
    "outage": {
        "zh": (
            ("系统崩溃，无法使用", "{product}的管理后台从十点左右开始完全打不开，报错 {error}，"
             "我们整个门店都无法下单，非常紧急！"),
            ("设备全部离线", "我们办公室的{product}今天下午全部显示离线，重启了路由器也没用，"
             "App 里看不到任何设备。"),
            ("云服务访问超时", "今天访问你们的云服务一直超时，接口返回 {error}，"
             "影响了我们的线上业务，请尽快处理。"),
            ("App 打不开，一直转圈", "从中午开始 App 一直在加载，首页出不来，"
             "我和家人的手机都是这样，是服务器出问题了吗？"),
            ("监控画面无法查看", "{product}的实时画面看不了，回放也加载失败，提示网络异常，"
             "但家里网络是正常的。"),
            ("接口大量报错", "我们调用开放平台接口从{date}开始大量返回 {error}，"
             "错误率超过三成，请技术同事尽快排查。"),
        ),
        "en": (
            ("Service down - urgent", "Your dashboard has been unreachable since about 10am, "
             "error {error}. None of our stores can take orders. This is urgent!"),
            ("All devices offline", "All our {product} units show as offline in the app since "
             "this afternoon. Restarting the router did not help."),
            ("API returning errors", "Since {date} a large share of our API calls return "
             "{error}. This is affecting our production systems."),
            ("App stuck on loading screen", "The app has been stuck on the loading screen "
             "since noon for everyone in our family. Is there an outage?"),
            ("Camera live view not working", "The live view of my {product} does not load and "
             "recordings fail with a network error. My internet is fine."),
            ("Outage in region eu-1", "We see timeouts on every request to the eu-1 region. "
             "Your status page says everything is operational, but it is not."),
        ),
    },
    "shipping": {
        "zh": (
            ("快递一直没有更新", "订单 {order} 显示已发货五天了，物流信息一直停在{city}转运中心，"
             "请帮忙催一下。"),
            ("收到的商品有破损", "今天收到的{product}外包装破了，机器外壳也有裂痕，附件是照片，"
             "请问怎么换货？"),
            ("发错货了", "我买的是{product}白色款，收到的是黑色的，订单 {order}，请安排换货。"),
            ("什么时候发货", "订单 {order} 下单一周了还显示待发货，说好的两天内发货，"
             "请问到底什么时候能发？"),
            ("修改收货地址", "订单 {order} 还没发货，我想把收货地址改到{city}的公司地址，"
             "请问还来得及吗？"),
            ("包裹显示签收但没收到", "物流显示{product}已经签收了，但是我本人没有收到，"
             "问了门卫也没有，请帮忙查一下。"),
        ),
        "en": (
            ("Where is my order?", "Order {order} was shipped a week ago but tracking has not "
             "updated since it left the warehouse in {city}."),
            ("Item arrived damaged", "The {product} I received today has a cracked housing and "
             "the box was crushed. Photos attached. How do I get a replacement?"),
            ("Wrong item delivered", "I ordered the white {product} and received a black one "
             "(order {order}). Please arrange an exchange."),
            ("Change delivery address", "Order {order} has not shipped yet. Can I change the "
             "delivery address to my office in {city}?"),
            ("Package marked delivered but not received", "Tracking says my {product} was "
             "delivered yesterday but nothing arrived. My neighbours have not seen it either."),
            ("Delivery delayed again", "The delivery date for order {order} has been pushed "
             "back twice now. When will it actually arrive?"),
        ),
    },
    "account": {
        "zh": (
            ("如何注销账号", "我不再使用{product}了，想注销账号并删除所有数据，"
             "请问需要提供什么材料？"),
            ("更换绑定手机号", "原来的手机号 {phone} 已经停用了，想换绑新号码，"
             "但是需要旧号码的验证码，怎么办？"),
            ("子账号权限设置", "我们公司有十几个同事要用{product}，请问怎么给子账号分配只读权限？"),
            ("企业认证一直审核中", "提交企业认证材料已经一周了，一直显示审核中，"
             "请问需要多长时间？"),
            ("设备被别的账号绑定了", "我新买的{product}提示已被其他账号绑定，序列号 {order}，"
             "请帮忙解绑。"),
            ("修改账号邮箱", "想把账号绑定的邮箱改成公司邮箱，设置里修改时一直提示 {error}。"),
        ),
        "en": (
            ("Delete my account", "I no longer use the {product} and would like my account and "
             "all personal data deleted. What do you need from me?"),
            ("Change the phone number on my account", "My old phone number is no longer in use "
             "and I can't receive the code to change it. How can I update it?"),
            ("Add users to our company account", "We need to add ten colleagues to our account "
             "with read-only access. How do we set this up?"),
            ("Device already bound to another account", "My new {product} says it is already "
             "bound to another account (serial {order}). Please release it."),
            ("Update account email address", "I want to change the email address on my "
             "account, but the settings page fails with {error}."),
            ("Transfer account ownership", "Our previous admin has left the company. How can "
             "we transfer ownership of the account to me?"),
        ),
    },
    "refund": {
        "zh": (
            ("申请退款", "{product}用了三天发现不适合，还在七天无理由退货期内，"
             "想申请退款，订单 {order}。"),
            ("退款还没到账", "十天前申请的退款 {amount} 元，系统显示已退款，"
             "但是银行卡一直没有收到。"),
            ("取消订单并退款", "订单 {order} 下错了，还没发货，请帮忙取消并原路退款。"),
            ("会员退订退款", "误开通了{product}年度会员，扣了 {amount} 元，一次都没用过，"
             "请帮忙退订并退款。"),
            ("退货寄回后一直没处理", "退货的{product}已经寄回一周了，快递显示你们已签收，"
             "但是退款一直没处理。"),
            ("部分退款金额不对", "申请退一件商品，结果只退了 {amount} 元，"
             "跟页面显示的价格不一样，请核实。"),
        ),
        "en": (
            ("Refund request", "The {product} does not suit us and we are still within the "
             "30-day return window. Please refund order {order}."),
            ("Refund not received", "My refund of {amount} was approved ten days ago but has "
             "not reached my account yet."),
            ("Cancel order and refund", "I placed order {order} by mistake. It has not shipped "
             "yet; please cancel it and refund me."),
            ("Returned item but no refund yet", "I sent the {product} back two weeks ago and "
             "tracking shows you received it, but there is still no refund."),
            ("Refund amount is wrong", "I was refunded {amount}, which is less than what I "
             "paid. Please check and refund the difference."),
            ("Cancel subscription and refund", "I was charged {amount} for an annual {product} "
             "renewal I did not want. Please cancel it and refund me."),
        ),
    },
    "sensitive": {
        "zh": (
            ("投诉客服态度", "我要投诉你们的客服，上周电话里态度非常差，问题没解决还直接挂了电话，"
             "请给一个说法。"),
            ("要求删除个人信息", "根据个人信息保护法，我要求你们删除我的全部个人信息和"
             "{product}录下的视频，并书面确认。"),
            ("隐私泄露问题", "我的{product}录像被陌生人看到了，怀疑你们的系统有漏洞导致隐私泄露，"
             "请立即调查。"),
            ("再不处理就找律师了", "这个问题反映了三次都没有人处理，{product}坏了一个月，"
             "再不解决我就找律师并向消协投诉。"),
            ("投诉：多扣的钱无人处理", "多扣的 {amount} 元到现在都没退，打客服电话没人接，"
             "我已经向12315投诉了。"),
            ("媒体采访请求", "我是记者，想了解贵公司{product}近期的安全问题，请问可以安排采访吗？"),
        ),
        "en": (
            ("Formal complaint about your support", "I want to file a formal complaint. Your "
             "agent was rude on the phone last week and hung up without solving anything."),
            ("GDPR data deletion request", "Under the GDPR I request deletion of all personal "
             "data you hold about me, including recordings from my {product}."),
            ("Possible privacy breach", "A stranger was able to view my {product} recordings. "
             "I suspect a security hole. Please investigate immediately."),
            ("I will take legal action", "I have reported this three times with no answer. If "
             "my {product} is not fixed this week my lawyer will contact you."),
            ("Press inquiry", "I am a journalist writing about recent security issues with the "
             "{product}. Could someone from your company comment?"),
        ),
    },
    "general": {
        "zh": (
            ("如何导出报表", "请问在后台怎么导出上个月的销售报表？找了半天没找到导出按钮。"),
            ("产品使用咨询", "{product}可以同时连接两个无线网络吗？家里有两个路由器，"
             "想知道怎么设置比较好。"),
            ("固件升级失败", "{product}升级固件到 {version} 的时候失败了，提示 {error}，"
             "现在设备能用但版本还是旧的。"),
            ("能不能开通接口", "我们想把{product}的数据接入自己的系统，请问有没有开放接口，"
             "需要怎么申请？"),
            ("功能建议", "建议 App 增加按周统计的图表，现在只能按天看，不太方便。"),
            ("说明书找不到了", "{product}的说明书丢了，请问有电子版吗？"
             "主要想看一下怎么恢复出厂设置。"),
            ("App 偶尔闪退", "{product}的 App 在安卓手机上偶尔会闪退，特别是切换到设备列表的时候，"
             "不影响使用但挺烦的。"),
        ),
        "en": (
            ("How do I export reports?", "How can I export last month's sales report from the "
             "admin console? I can't find an export button anywhere."),
            ("Question about the {product}", "Can the {product} connect to two Wi-Fi networks? "
             "We have two routers at home."),
            ("Firmware update failed", "Updating my {product} to firmware {version} failed with "
             "{error}. The device still works but is on the old version."),
            ("Is there an API?", "We would like to pull data from our {product} devices into "
             "our own system. Do you offer an API?"),
            ("Feature request: weekly charts", "It would be great if the app showed weekly "
             "statistics, not just daily ones."),
            ("Where can I find the manual?", "I lost the manual for my {product}. Is there a "
             "PDF? I need to know how to do a factory reset."),
            ("App crashes sometimes", "The app crashes now and then on my Android phone, "
             "mostly when I open the device list."),
        ),
    },
}  # fmt: skip
PRODUCTS = {
    "zh": ("智能门锁", "扫地机器人", "智能音箱", "空气净化器", "云存储会员", "智能摄像头",
           "路由器"),
    "en": ("smart lock", "robot vacuum", "smart speaker", "air purifier", "cloud storage plan",
           "security camera", "router"),
}  # fmt: skip
CITIES = {
    "zh": ("上海", "广州", "成都", "武汉", "杭州", "北京", "深圳"),
    "en": ("Shanghai", "Rotterdam", "Singapore", "Frankfurt", "Sydney"),
}
ERRORS = ("E1001", "E2013", "ERR_TIMEOUT", "502 Bad Gateway", "AUTH_401", "NET-0042")
GREETINGS = {
    "zh": ("您好，", "你好，", "客服您好：", "", "各位好，"),
    "en": ("Hello,", "Hi,", "Hi there,", "Dear support team,", ""),
}
CONTEXT = {  # what customers add around the problem: one to three of these per mail
    "zh": ("附件是截图。", "之前也出现过一次，后来自己好了。",
           "这个问题已经影响到我们的正常使用了。", "我们是上周五下的单。",
           "家里用的是电信宽带，网速正常。", "已经打过客服热线，但是一直占线。",
           "同事的账号也有类似情况。", "我用的是苹果手机，系统是最新的。",
           "设备是去年双十一买的。", "这是我们第二次遇到这种情况了。", "昨天晚上还是好好的。",
           "我已经按照帮助中心的步骤操作过了。", "我们门店明天要用，比较着急。",
           "我们公司一共买了二十台。", "请尽量在工作时间联系我。", "可以直接打我电话沟通。",
           "我是老用户了，用了三年多。", "希望能给个明确的处理时间。", "换了另一台电脑也一样。",
           "已经清除过缓存，重启过设备。", "朋友推荐我买的，没想到会这样。",
           "发票需要在月底前报销。", "我人在外地出差，不方便寄回。", "包装盒还留着。",
           "截图里能看到具体的报错信息。", "麻烦给个处理进度。"),
    "en": ("Screenshot attached.", "This happened once before and then went away.",
           "This is holding up our work.", "We placed the order last Friday.",
           "My internet connection is fine otherwise.",
           "I tried calling your hotline but it was always busy.",
           "A colleague has the same problem.", "I am on an iPhone with the latest iOS.",
           "I bought it during the Black Friday sale.", "This is the second time this happened.",
           "It was working fine last night.", "I already followed the steps in your help centre.",
           "We need this working before our store opens tomorrow.",
           "We have twenty of these devices in our office.",
           "Please contact me during office hours.", "Feel free to call me.",
           "I have been a customer for three years.", "Please give me a clear timeline.",
           "Same thing on a different computer.", "I cleared the cache and restarted the device.",
           "A friend recommended your product to me.",
           "I need the invoice for my expense report by the end of the month.",
           "I am travelling and cannot send it back right now.", "I still have the original box.",
           "The screenshot shows the exact error.", "Please let me know how it is going."),
}  # fmt: skip
CLOSINGS = {
    "zh": ("谢谢！", "麻烦尽快回复，谢谢。", "急，等回复。", "辛苦了。", ""),
    "en": ("Thanks,", "Best regards,", "Thank you for your help.", "Cheers,", "Regards,"),
}
SITUATIONS = {  # more of the customer's circumstances, in their own details
    "zh": ("{when}发现的。", "我用的是{device}。", "{product}是在{shop}买的。", "我人在{city}。",
           "{when}还试过重装，没有用。", "{device}和{product}都重启过了。"),
    "en": ("I noticed it {when}.", "I'm using {device}.", "I bought the {product} from {shop}.",
           "We are based in {city}.", "I tried reinstalling {when}, no luck.",
           "I restarted {device} and the {product}."),
}  # fmt: skip
WHEN = {
    "zh": ("今天早上", "昨天下午", "周一上午", "上周末", "前天晚上", "刚才", "中午", "半夜"),
    "en": ("this morning", "yesterday afternoon", "on Monday", "over the weekend", "last night",
           "just now", "at lunchtime"),
}  # fmt: skip
DEVICES = {
    "zh": ("苹果手机", "华为手机", "小米手机", "安卓平板", "笔记本电脑", "台式机", "苹果电脑"),
    "en": ("an iPhone 15", "a Pixel 8", "a Samsung tablet", "a MacBook", "a Windows laptop",
           "an iPad"),
}  # fmt: skip
SHOPS = {
    "zh": ("京东", "天猫", "官网", "线下门店", "拼多多", "苏宁"),
    "en": ("Amazon", "your web shop", "a local retailer", "MediaMarkt", "Best Buy"),
}
VAGUE_SUBJECTS = {  # subjects that say nothing: the body tells what it is about
    "zh": ("咨询一下", "请帮忙处理", "急！", "求助", "问题反馈"),
    "en": ("Question", "Help needed", "Urgent", "Support request", "Problem"),
}
_CLAUSES = {"zh": re.compile(r"(?<=[，。？！])"), "en": re.compile(r"(?<=[.?!]) ")}
FROM_PHONE = {"zh": "发自我的iPhone", "en": "Sent from my iPhone"}
FOLLOW_UPS = {
    "zh": ("补充一下，订单号是 {order}。", "附件是截图，麻烦看一下。", "请问处理得怎么样了？",
           "我按你们说的试了，还是不行。", "今天又出现了同样的情况。"),
    "en": ("Adding the order number: {order}.", "Screenshot attached.", "Any update on this?",
           "I tried what you suggested but it still fails.", "It happened again today."),
}  # fmt: skip
CONFIRMATIONS = {
    "zh": ("好的，已经解决了，谢谢！", "确认已解决。", "可以了，谢谢"),
    "en": ("Yes, that fixed it. Thanks!", "Confirmed, all good now.", "Works now, thank you."),
}
REOPENINGS = {
    "zh": ("问题又出现了，请再看一下。", "还是不行，跟之前一样。"),
    "en": ("The problem is back.", "Still not working, same as before."),
}
COMMENTS = {  # what customers write with their rating, by low (1-2), middling (3), high (4-5)
    "zh": {
        "low": ("等了好几天才有人回复", "问题没解决就关单了", "客服回答很敷衍", ""),
        "mid": ("还行", "", ""),
        "high": ("处理很快，很满意", "客服很耐心，谢谢", "", ""),
    },
    "en": {
        "low": ("Took days to get an answer", "Closed without fixing anything",
                "The answers were copy-paste", ""),
        "mid": ("OK", "", ""),
        "high": ("Quick and friendly, thanks", "Great support", "", ""),
    },
}  # fmt: skip
AGENT_WORDS = {
    "zh": ("您好，我们已经收到您的问题，正在排查，请稍候。",
           "麻烦提供一下订单号和截图，方便我们查询。", "已经为您处理好了，请再试一下。",
           "这个问题已反馈给技术团队，有进展会第一时间通知您。"),
    "en": ("Thanks, we are looking into it and will get back to you shortly.",
           "Could you send us the order number and a screenshot?",
           "This is fixed on our side now, please try again.",
           "We have passed this to our engineers and will update you as soon as we know more."),
}  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "杰", "娟", "涛", "明", "超", "秀英")
EN_FIRST = ("Alice", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hannah", "Ivan", "Julia")
EN_LAST = ("Smith", "Jones", "Müller", "Tan", "Nguyen", "Brown", "Garcia", "Kowalski", "Lee")
MAIL_DOMAINS = {
    "zh": ("qq.com", "163.com", "126.com", "foxmail.com", "sina.com"),
    "tw": ("gmail.com", "hinet.net", "yahoo.com.tw"),
    "en": ("gmail.com", "outlook.com", "icloud.com", "proton.me"),
}
COMPANIES = {
    "zh": ("华信科技", "东方物流", "星河电子", "蓝海零售", "云帆网络"),
    "tw": ("宏達資訊", "永豐貿易", "大同零售"),
    "en": ("Northwind Ltd", "Acme GmbH", "Globex Pte", "Initech BV", "Umbrella Pty"),
}


@dataclass(frozen=True)
class Spike:
    """A topic that rises only in the reported week: many customers writing nearly the same."""

    share: float  # of all tickets (at least 3)
    start: datetime
    hours: float  # the reports come over this long, most of them early
    script: str  # "zh", "tw" (Traditional) or "en"
    priority: str
    category: str
    subjects: tuple[str, ...]
    bodies: tuple[str, ...]


SPIKES = (
    Spike(0.0012, datetime(2026, 11, 18, 10, tzinfo=ZONE), 26, "zh", "urgent", "outage",
          ("云盘同步失败", "云盘同步失败 SYNC-503", "同步失败，提示 SYNC-503", "云盘无法同步"),
          ("从今天上午开始云盘同步一直失败，提示 SYNC-503 服务暂不可用，文件上传到一半就中断了。",
           "云盘同步失败，报错 SYNC-503，重新登录也没用。",
           "电脑上的云盘客户端一直显示同步失败，错误代码 SYNC-503，手机端也同步不了。",
           "我们公司的共享文件夹今天无法同步，云盘同步失败，提示服务暂不可用。",
           "云盘同步失败好几个小时了，是不是服务器出问题了？")),
    Spike(0.0007, datetime(2026, 11, 19, 8, tzinfo=ZONE), 80, "en", "important", "general",
          ("App crashes on launch after update", "App crashes on startup since version 5.2",
           "Crash on launch after updating the app", "App keeps crashing"),
          ("Since updating the app to version 5.2 it crashes immediately on launch on my iPhone.",
           "After the latest update the app crashes as soon as I open it. Reinstalling did not "
           "help.",
           "The app crashes on launch since this morning's update. I can't get past the splash "
           "screen.",
           "Every time I open the app after updating to 5.2 it crashes straight away.")),
    Spike(0.0006, datetime(2026, 11, 20, 9, tzinfo=ZONE), 60, "zh", "important", "refund",
          ("微信支付重复扣款", "微信支付扣了两次钱", "重复扣款，请退款"),
          ("昨天用微信支付购买{product}，只付了一次却被重复扣款两次，每次 {amount} 元，"
           "请尽快退回。",
           "微信支付重复扣款了，同一个订单扣了两次 {amount} 元。",
           "刚才付款的时候微信支付提示失败，重新付了一次，结果两次都扣款了。",
           "订单 {order} 用微信支付被重复扣款，麻烦核实后退还多扣的钱。")),
    Spike(0.0003, datetime(2026, 11, 17, 9, tzinfo=ZONE), 110, "tw", "general", "billing",
          ("电子发票无法下载", "电子发票下载失败"),
          ("会员中心的电子发票一直无法下载，点击下载按钮后显示错误 {error}。",
           "电子发票下载失败，显示错误 {error}，换了浏览器也一样。",
           "上个月的电子发票下载不了，页面一直转圈。")),
)  # fmt: skip

# When tickets come in: local hour of day, day of week (Monday first), quiet holidays.
HOUR_WEIGHT = (0.15, 0.1, 0.08, 0.06, 0.06, 0.1, 0.25, 0.5, 0.9, 1.4, 1.6, 1.5,
               1.1, 1.2, 1.5, 1.5, 1.4, 1.2, 1.0, 0.9, 0.85, 0.75, 0.5, 0.3)  # fmt: skip
WEEKDAY_WEIGHT = (1.25, 1.2, 1.15, 1.1, 1.0, 0.5, 0.45)
QUIET = (  # first day, days, share of the usual volume
    (datetime(2026, 2, 15, tzinfo=ZONE), 9, 0.4),  # Spring Festival
    (datetime(2026, 5, 1, tzinfo=ZONE), 5, 0.7),  # Labour Day
    (datetime(2026, 10, 1, tzinfo=ZONE), 8, 0.45),  # National Day
)
GROWTH = 0.5  # the year's last week brings 50 % more tickets than its first
PRIORITY_SHARES = (("urgent", 0.10), ("important", 0.30), ("general", 0.60))
CATEGORY_SHARES = {
    "urgent": (("outage", 50), ("billing", 15), ("login", 15), ("account", 10), ("sensitive", 10)),
    "important": (("login", 25), ("billing", 20), ("refund", 15), ("account", 15),
                  ("sensitive", 15), ("shipping", 10)),
    "general": (("general", 30), ("shipping", 20), ("billing", 15), ("login", 15),
                ("account", 10), ("refund", 10)),
}  # fmt: skip
RULES = {  # what the shipped rules would have said, for the "rules" field
    "outage": "outage: 'crash' in the subject",
    "billing": "billing: 'invoice' in the body",
    "refund": "billing: 'refund' in the body",
    "login": "login: 'password' in the body",
    "sensitive": "complaint: '投诉' in the body",
}
SCORE_WEIGHTS = {"fine": (8, 6, 10, 24, 52), "breached": (17, 13, 15, 25, 30)}  # scores 1..5


def opening_times(rng: random.Random, count: int) -> list[datetime]:
    """`count` moments in [START, NOW), in order, following the daily and weekly rhythm, the
    holidays and the growth: each hour of the year weighted, a second within it at random."""
    hours = int((NOW - START) / timedelta(hours=1))
    quiet = {
        (first + timedelta(days=d)).date(): share for first, days, share in QUIET
        for d in range(days)
    }  # fmt: skip
    weights = []
    for hour in range(hours):
        local = START + timedelta(hours=hour)
        weights.append(
            (1 + GROWTH * hour / hours)
            * WEEKDAY_WEIGHT[local.weekday()]
            * HOUR_WEIGHT[local.hour]
            * quiet.get(local.date(), 1.0)
        )
    start = START.astimezone(UTC)
    slots = rng.choices(range(hours), cum_weights=list(accumulate(weights)), k=count)
    return sorted(start + timedelta(hours=h, seconds=rng.randrange(3600)) for h in slots)


# --- customers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    address: str
    name: str
    script: str  # "zh", "tw" (writes Traditional Chinese) or "en"
    company: str | None
    answerable: bool  # an address maild writes to automatically

    @property
    def language(self) -> str:
        return "en" if self.script == "en" else "zh"


def customers(rng: random.Random, count: int) -> list[Customer]:
    """The customer base: mostly mainland China, some Taiwan and Hong Kong, a third abroad;
    a quarter at companies (their own domain), the rest at mailbox providers."""
    found = []
    for n in range(count):
        roll = rng.random()
        script = "zh" if roll < 0.55 else "tw" if roll < 0.65 else "en"
        company = rng.choice(COMPANIES[script]) if rng.random() < 0.25 else None
        if script == "en":
            first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
            name, local = f"{first} {last}", f"{first.lower()}.{n}"
        else:
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            local = f"user{n}"
        if company:
            domain = f"corp{COMPANIES[script].index(company)}.{script}.example"
        else:
            domain = rng.choice(MAIL_DOMAINS[script])
        answerable = rng.random() > 0.03
        address = f"{local}@{domain}" if answerable else f"客户{n}@例子.中国"
        found.append(Customer(address, name, script, company, answerable))
    return found


# --- one ticket's year -------------------------------------------------------------------------


class _Horizon(Exception):
    """The next step would happen at or after NOW: the ticket's story stops where it is."""


@dataclass
class World:
    """What the tickets share while they are made: the rng, the config, the customers, and what
    maild remembers about customers (surveys sent, recent complaints) across tickets."""

    rng: random.Random
    config: Config
    customers: list[Customer]
    by_script: dict[str, list[Customer]]
    agents_of: dict[str, list[Agent]]
    to_traditional: Any
    surveyed: dict[str, list[datetime]] = field(default_factory=dict)
    recent: dict[str, list[tuple[datetime, int, bool]]] = field(default_factory=dict)
    alerted: dict[str, datetime] = field(default_factory=dict)
    angry: list[tuple[datetime, Customer]] = field(default_factory=list)  # complain again then
    facts: Counter[str] = field(default_factory=Counter)

    def customer(self) -> Customer:
        """Some customers write often: index ~ u^1.5 gives the busiest a ticket every few days."""
        return self.customers[int(len(self.customers) * self.rng.random() ** 1.5)]

    def agent(self, team: str | None) -> Agent:
        rng = self.rng
        if team in self.agents_of and rng.random() < 0.85:
            return rng.choice(self.agents_of[team])
        return rng.choice(self.config.agents)


def _message_id(tag: str, number: int, serial: int, domain: str) -> str:
    """Unique and stable, with the random-looking part real Message-IDs have."""
    local = f"{tag}{number}.{serial}"
    return f"<{local}.{hashlib.md5(local.encode()).hexdigest()[:10]}@{domain}>"


class Life:
    """One ticket's history as its customer, its agents and a sweep every minute make it.

    Each step first lets the sweep catch up to its moment (updates, warnings and escalations
    due by then: sla_sweep's _catch_up), and a step at or after NOW does not happen (_Horizon):
    the ticket stays as it was at the digest's slot. The messages the steps bring are kept in
    `messages`, with the fields ingest stores.
    """

    def __init__(
        self,
        world: World,
        number: int,
        created: datetime,
        customer: Customer,
        priority: str,
        category: str,
        subject: str,
        text: str,
    ) -> None:
        self.world = world
        self.number = number
        self.rng = world.rng
        self.config = world.config
        self.created = created
        self.customer = customer
        self.last = created
        self.serial = 0
        self.messages: list[dict[str, Any]] = []
        team = team_for(category, self.config.teams)
        first_id = self._id("c")
        rules = [RULES[category]] if category in RULES else []
        self.ticket: dict[str, Any] = {
            "number": number,
            "id": ticket_id(self.config.support.ticket_prefix, number),
            "status": "new",
            "priority": priority,
            "category": category,
            "team": team,
            "rules": rules,
            "complaint": category == "sensitive",
            "customer": customer.address,
            "customer_name": customer.name,
            "subject": subject,
            "language": customer.language,
            "created_at": iso(created),
            "updated_at": iso(created),
            "message_count": 0,
            "first_message_id": first_id,
            "last_message_id": first_id,
            "updates": customer.answerable,
            "events": [event(created, customer.address, "opened", rules=rules)],
            "assignee": None,
            "satisfaction": None,
            "confirmed": False,
            "linked_to": None,
        }
        self._inbound(first_id, created, customer.address, customer.name, "customer", subject, text)
        events = self.events
        if customer.answerable:
            events.append(event(created, "maild", "acknowledged"))
        events.append(event(created, "maild", "team_notified", team=team))
        if priority == "urgent":
            events.append(event(created, "maild", "paged", to=list(self.config.paging.to)))

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.ticket["events"]  # type: ignore[no-any-return]

    @property
    def status(self) -> str:
        return self.ticket["status"]  # type: ignore[no-any-return]

    @property
    def policy(self) -> Policy:
        return self.config.policy_for(self.ticket["priority"], self.ticket["category"])

    def _id(self, tag: str) -> str:
        self.serial += 1
        domain = "bench.example" if tag != "c" else self.customer.address.rpartition("@")[2]
        return _message_id(tag, self.number, self.serial, domain)

    def _inbound(
        self, message_id: str, at: datetime, sender: str, name: str, kind: str, subject: str,
        text: str,
    ) -> None:  # fmt: skip
        """A stored incoming message, as ingest._store_message records it (raw file and
        attachments referenced, not written)."""
        digest = hashlib.sha256(message_id.encode()).hexdigest()
        attachments = []
        if self.rng.random() < 0.08:
            attachments.append(
                {
                    "filename": "截图.png" if self.customer.language == "zh" else "screenshot.png",
                    "content_type": "image/png",
                    "size": 40_000 + self.rng.randrange(400_000),
                    "stored_as": f"attachments/{digest[2:4]}/{digest[::-1]}.bin",
                    "inline": False,
                }
            )
        first = self.ticket["first_message_id"]
        replying = [] if message_id == first else [first]
        self.messages.append(
            {
                "message_id": message_id,
                "ticket": self.ticket["number"],
                "direction": "in",
                "kind": kind,
                "automatic": None,
                "from": sender,
                "from_name": name,
                "to": [SUPPORT],
                "cc": [],
                "subject": subject,
                "date": iso(at - timedelta(seconds=self.rng.randrange(5, 90))),
                "received_at": iso(at),
                "in_reply_to": replying,
                "references": replying,
                "text": text,
                "attachments": attachments,
                "raw": f"raw/{digest[:2]}/{digest}.eml",
                "synthetic_id": False,
                "notes": [],
            }
        )
        self.ticket["message_count"] += 1

    def step(self, at: datetime) -> datetime:
        """Move the story to `at` (never backwards), the sweep catching up first."""
        at = _at(max(at, self.last))
        if at >= NOW:
            raise _Horizon
        if self.status not in DONE_STATUSES:
            _catch_up(self.rng, self.ticket, self.config, at)
        self.last = at
        return at

    def _status(self, at: datetime, actor: str, to: str, **extra: Any) -> None:
        self.events.append(event(at, actor, "status", **{"from": self.status, "to": to}, **extra))
        self.ticket["status"] = to

    def _words(self, pool: dict[str, tuple[str, ...]]) -> str:
        return self.rng.choice(pool[self.customer.language]).format(order=_order(self.rng))

    def customer_writes(self, at: datetime, pool: dict[str, tuple[str, ...]]) -> None:
        at = self.step(at)
        message_id = self._id("c")
        subject = f"Re: {self.ticket['subject']}"
        c = self.customer
        self._inbound(message_id, at, c.address, c.name, "customer", subject, self._words(pool))
        self.ticket["last_message_id"] = message_id
        self.events.append(event(at, c.address, "customer_message", message_id=message_id))
        if self.status == "pending":  # as intake does: the clocks resume
            self._status(at, c.address, "open")

    def _agent_mail(self, at: datetime, agent: Agent, words: str) -> None:
        """The agent's own mail to maild (their words, maybe a command), kept as intake keeps
        it; what maild relays to the customer goes to the outbox, which this store leaves out."""
        language = self.customer.language
        subject = f"Re: [#{self.ticket['id']}] {self.ticket['subject']}"
        text = words or self.rng.choice(AGENT_WORDS[language])
        self._inbound(self._id("a"), at, agent.address, agent.name, "agent", subject, text)

    def agent_replies(self, at: datetime, agent: Agent, *, pending: bool) -> None:
        at = self.step(at)
        words = self.rng.choice(AGENT_WORDS[self.customer.language])
        self._agent_mail(at, agent, f"{words}\n\n#pending" if pending else words)
        self.events.append(event(at, agent.address, "agent_reply", message_id=self._id("r")))
        if self.status == "new":
            self._status(at, agent.address, "open")
        if not self.ticket["assignee"]:
            self.events.append(
                event(at, agent.address, "assign", **{"from": None, "to": agent.key})
            )
            self.ticket["assignee"] = agent.key
        if pending and self.status != "pending":
            self._status(at, agent.address, "pending")

    def change(self, at: datetime, agent: Agent, what: str, value: str) -> None:
        """An agent's #priority or #category: the SLA policy follows."""
        at = self.step(at)
        detail: dict[str, Any] = {"from": self.ticket[what], "to": value}
        self.ticket[what] = value
        if what == "category":
            team = team_for(value, self.config.teams)
            if team != self.ticket["team"]:
                self.ticket["team"] = detail["team"] = team
        self.events.append(event(at, agent.address, what, **detail))
        if what == "priority" and value == "urgent":
            self.events.append(event(at, "maild", "paged", to=list(self.config.paging.to)))

    def reassign(self, at: datetime) -> None:
        at = self.step(at)
        team = self.ticket["team"]
        agent = self.world.agent(team)
        if agent.key != self.ticket["assignee"]:
            detail = {"from": self.ticket["assignee"], "to": agent.key}
            self.events.append(event(at, LEADS.get(team or "", SUPPORT), "assign", **detail))
            self.ticket["assignee"] = agent.key

    def comment(self, at: datetime, agent: Agent) -> None:
        at = self.step(at)
        text = "已电话联系客户" if self.customer.language == "zh" else "Called the customer"
        self._agent_mail(at, agent, f"#comment {text}")
        self.events.append(event(at, agent.address, "comment", text=text))

    def resolve(self, at: datetime, agent: Agent) -> None:
        separate = at > self.last
        at = self.step(at)
        note = "已处理" if self.customer.language == "zh" else "Fixed"
        if separate:  # else the #resolve rode on the reply just sent
            self._agent_mail(at, agent, f"#resolve {note}")
        self._status(at, agent.address, "resolved", note=note)
        self.ticket["resolved_at"] = iso(at)

    def close(self, at: datetime, actor: str, *, confirmed: bool = False) -> None:
        at = self.step(at)
        if confirmed:
            message_id = self._id("c")
            c = self.customer
            subject = f"Re: {self.ticket['subject']}"
            self._inbound(message_id, at, c.address, c.name, "customer", subject,
                          self._words(CONFIRMATIONS))  # fmt: skip
            self.events.append(event(at, c.address, "customer_message", message_id=message_id))
            self.events.append(event(at, actor, "confirmed"))
        self._status(at, actor, "closed")
        self.ticket.update(closed_at=iso(at), confirmed=confirmed)
        worked = any(
            e["action"] == "agent_reply"
            or (e["action"] == "status" and e["detail"]["to"] == "resolved")
            for e in self.events
        )
        if self.ticket["updates"] and worked and self._survey_due(at):
            survey = self._id("s")
            self.events.append(event(at, "maild", "survey_sent", message_id=survey))
            self.ticket.update(survey_sent_at=iso(at), survey_message_id=survey)

    def _survey_due(self, at: datetime) -> bool:
        """One survey per customer per 30 days. Tickets are made one after another, not in the
        order they close, so any survey within 30 days either side counts."""
        sent = self.world.surveyed.setdefault(self.customer.address, [])
        if any(abs(at - s) < SURVEY_EVERY for s in sent):
            return False
        sent.append(at)
        return True

    def reopen(self, at: datetime) -> None:
        at = self.step(at)
        self.customer_writes(at, REOPENINGS)
        actor = self.customer.address
        self.events.append(event(at, actor, "reopened"))
        self._status(at, actor, "open")
        for name in ("resolved_at", "closed_at", "archived_at", "survey_message_id"):
            self.ticket[name] = None
        self.ticket["confirmed"] = False

    def rate(self, at: datetime) -> None:
        at = self.step(at)
        breached = any(":level:" in e["detail"].get("key", "") for e in self.events)
        weights = SCORE_WEIGHTS["breached" if breached else "fine"]
        score = self.rng.choices((1, 2, 3, 4, 5), weights=weights)[0]
        mood = "low" if score <= 2 else "mid" if score == 3 else "high"
        remark = self.rng.choice(COMMENTS[self.customer.language][mood])
        c = self.customer
        message_id = self._id("c")
        subject = f"Re: {self.ticket['subject']}"
        self._inbound(message_id, at, c.address, c.name, "customer", subject,
                      f"{score} {remark}".strip())  # fmt: skip
        self.events.append(event(at, c.address, "customer_message", message_id=message_id))
        self.events.append(event(at, c.address, "rated", score=score, comment=remark))
        self.ticket.update(satisfaction=score, satisfaction_comment=remark)
        if score <= 2:
            self.ticket["review"] = True
            team = self.ticket["team"]
            self.events.append(event(at, "maild", "review_opened", to=[LEADS.get(team, SUPPORT)]))

    def archive(self, at: datetime) -> None:
        at = self.step(at)
        self.events.append(event(at, "maild", "archived"))
        self.ticket["archived_at"] = iso(at)

    def merge_into(self, at: datetime, agent: Agent, target: Life) -> None:
        at = self.step(at)
        self._agent_mail(at, agent, f"#merge {target.ticket['id']}")
        self.events.append(event(at, agent.address, "merged", into=target.ticket["id"]))
        self._status(at, agent.address, "closed")
        self.ticket.update(closed_at=iso(at), merged_into=target.ticket["number"])
        _insert(target.events, event(at, agent.address, "merged", **{"from": self.ticket["id"]}))

    def closed_by(self) -> datetime | None:
        """When the ticket was first closed, if it was."""
        for e in self.events:
            if e["action"] == "status" and e["detail"]["to"] == "closed":
                return datetime.fromisoformat(e["at"])
        return None

    def finish(self) -> None:
        """As the daemon leaves it at NOW: the sweep caught up, its next check stored."""
        if self.status not in DONE_STATUSES:
            _catch_up(self.rng, self.ticket, self.config, NOW)
        self.ticket["updated_at"] = self.events[-1]["at"]
        self.ticket["next_check_at"] = next_check_at(self.ticket, self.config, NOW)


def _order(rng: random.Random) -> str:
    return f"2026{rng.randrange(10**8):08d}"


def _late_share(rng: random.Random, late: float) -> float:
    """A multiple of an SLA target: over 1 (missed) for a `late` share, mostly well inside."""
    if rng.random() < late:
        return rng.uniform(1.0, 2.5)
    return 0.05 + 0.95 * rng.random() ** 1.7


def _customer_delay(rng: random.Random, hours: float) -> timedelta:
    return timedelta(hours=rng.expovariate(1 / hours))


def story(life: Life) -> None:
    """The rest of a ticket's life after it opened; raises _Horizon when it reaches NOW."""
    rng, world, ticket = life.rng, life.world, life.ticket
    created = life.created
    policy = life.policy
    first = _at(
        policy.calendar.add(created, policy.target("first_response") * _late_share(rng, 0.1))
    )
    if rng.random() < 0.12:
        life.customer_writes(_between(rng, created, first), FOLLOW_UPS)
    agent = world.agent(ticket["team"])
    if rng.random() < 0.04:  # a wrong address, spam, nothing to do: closed by an agent
        life.close(first, agent.address)
        _afterwards(life)
        return
    if ticket["priority"] == "important" and rng.random() < 0.04:
        life.change(first, agent, "priority", "urgent")
    elif rng.random() < 0.02:
        other = rng.choice([c for c in TEMPLATES if c != ticket["category"]])
        life.change(first, agent, "category", other)
    quick = rng.random() < QUICK  # answered and resolved in the first reply
    life.agent_replies(first, agent, pending=not quick and rng.random() < 0.45)
    _work(life, agent, since=first, quick=quick)
    _afterwards(life)


def _work(life: Life, agent: Agent, since: datetime, *, quick: bool) -> None:
    """Rounds of the customer writing and an agent answering, then the resolution (`quick`: in
    the first reply), then what the customer makes of it: confirmation, silence (maild
    closes it), or a reopening."""
    rng, world = life.rng, life.world
    policy = life.policy
    counted = policy.target("resolve") * _late_share(rng, 0.08)
    resolve_at = since if quick else max(_at(policy.calendar.add(life.created, counted)), since)
    rounds = 0 if quick else rng.choice((0, 0, 0, 1, 1, 1, 2))
    if not quick and rng.random() < STUCK:
        # Waiting on a supplier for weeks, the clocks paused meanwhile.
        resolve_at += timedelta(days=rng.uniform(20, 70))
        life.agent_replies(_between(rng, since, since + timedelta(days=1)), agent, pending=True)
        rounds = 0
    moments = sorted(_between(rng, since, resolve_at) for _ in range(2 * rounds))
    for customer_at, agent_at in zip(moments[::2], moments[1::2], strict=True):
        life.customer_writes(customer_at, FOLLOW_UPS)
        if rng.random() < 0.85:
            helper = agent if rng.random() < 0.8 else world.agent(life.ticket["team"])
            life.agent_replies(agent_at, helper, pending=rng.random() < 0.5)
    if rng.random() < 0.03:
        life.reassign(_between(rng, since, resolve_at))
    if rng.random() < 0.08:
        life.comment(_between(rng, since, resolve_at), agent)
    life.resolve(resolve_at, agent)
    roll = rng.random()
    if roll < 0.06:  # "still broken": reopened before maild closes it
        life.reopen(life.last + min(_customer_delay(rng, 20), AUTOCLOSE * 0.9))
        again = _at(policy.calendar.add(life.last, policy.target("update_every") * rng.random()))
        life.agent_replies(again, agent, pending=False)
        life.resolve(_at(policy.calendar.add(again, 3600 * rng.uniform(0.5, 8))), agent)
        roll = rng.random() * 0.95 + 0.05
    if roll < 0.40:
        confirm = life.last + min(_customer_delay(rng, 8), AUTOCLOSE * 0.9)
        life.close(confirm, life.customer.address, confirmed=True)
    else:
        life.close(life.last + AUTOCLOSE + timedelta(seconds=rng.randrange(60)), "maild")


def _afterwards(life: Life) -> None:
    """After closing: a rating for some surveys, a late reopening for a few, archiving."""
    rng = life.rng
    closed = life.last
    if life.ticket.get("survey_message_id") and rng.random() < 0.35:
        life.rate(closed + _customer_delay(rng, 18))
    if life.ticket.get("resolved_at") and rng.random() < 0.015:
        life.reopen(closed + timedelta(days=rng.uniform(1, 29)))
        agent = life.world.agent(life.ticket["team"])
        again = _at(life.policy.calendar.add(life.last, 3600 * rng.uniform(0.5, 6)))
        life.agent_replies(again, agent, pending=False)
        life.resolve(again + timedelta(hours=rng.uniform(1, 30)), agent)
        life.close(life.last + AUTOCLOSE + timedelta(seconds=rng.randrange(60)), "maild")
    closed_at = datetime.fromisoformat(life.ticket["closed_at"])
    life.archive(closed_at + ARCHIVE_AFTER + timedelta(seconds=rng.randrange(60)))


def watch_complaints(life: Life) -> None:
    """complaints.watch at opening: 5 tickets or 2 complaints from one address within 7 days
    alert the team lead, once per window."""
    world, ticket, created = life.world, life.ticket, life.created
    key = life.customer.address.lower()
    recent = [r for r in world.recent.get(key, []) if r[0] >= created - COMPLAINT_WINDOW]
    recent.append((created, ticket["number"], ticket["complaint"]))
    world.recent[key] = recent
    complaints = sum(1 for r in recent if r[2])
    alerted = world.alerted.get(key)
    quiet = alerted is not None and alerted > created - COMPLAINT_WINDOW
    if (len(recent) >= 5 or complaints >= 2) and not quiet:
        to = [LEADS.get(ticket["team"], SUPPORT)]
        tickets = [r[1] for r in recent]
        life.events.append(
            event(created, "maild", "complaints_alert", who=key, tickets=tickets, to=to)
        )
        world.alerted[key] = created
        world.facts["complaints_alert"] += 1


def compose(
    rng: random.Random,
    world: World,
    customer: Customer,
    subject: str,
    body: str,
    *,
    context: int,
    retell: bool,
) -> tuple[str, str]:
    """A first mail around a template's words: greeting, the problem, `context` sentences of
    the customer's circumstances, a closing, and what mail programs add (signature, "Sent from
    my iPhone", quoted history). With `retell`, the customer tells only some of the template's
    clauses and may write a vague subject: without that, and the context, every mail from one
    template would be a near-duplicate of the others, which real customers' mails are not."""
    language = customer.language
    fill = {
        "product": rng.choice(PRODUCTS[language]),
        "error": rng.choice(ERRORS),
        "order": _order(rng),
        "amount": f"{rng.uniform(9, 2000):.2f}",
        "phone": f"1{rng.randrange(30, 99)}****{rng.randrange(10_000):04d}",
        "city": rng.choice(CITIES[language]),
        "version": f"5.{rng.randrange(2)}.{rng.randrange(10)}",
        "date": "昨天" if language == "zh" else "yesterday",
    }
    subject, body = subject.format(**fill), body.format(**fill)
    joiner = "" if language == "zh" else " "
    if retell:
        body = _retell(rng, body, language)
        if rng.random() < 0.3:
            subject = rng.choice(VAGUE_SUBJECTS[language])
    fill.update(
        when=rng.choice(WHEN[language]),
        device=rng.choice(DEVICES[language]),
        shop=rng.choice(SHOPS[language]),
        product=rng.choice(PRODUCTS[language]),
    )
    situations = rng.sample(SITUATIONS[language], min(context, 2))
    sentences = [*rng.sample(CONTEXT[language], context), *(s.format(**fill) for s in situations)]
    rng.shuffle(sentences)
    told = joiner.join(sentences)
    parts = [rng.choice(GREETINGS[language]), f"{body}{joiner}{told}" if told else body]
    closing = rng.choice(CLOSINGS[language])
    signature = customer.name if language == "zh" else customer.name.split()[0]
    roll = rng.random()
    if roll < 0.2:
        parts.append(f"{closing}\n\n{FROM_PHONE[language]}")
    elif customer.company:
        parts.append(f"{closing}\n-- \n{customer.name}\n{customer.company}")
    else:
        parts.append(f"{closing}\n{signature}")
    if rng.random() < 0.08:
        quoted = "> 您的工单已受理" if language == "zh" else "> We have received your request"
        header = "-----原始邮件-----" if language == "zh" else "-----Original Message-----"
        parts.append(f"{header}\nFrom: {SUPPORT}\n{quoted}")
    text = "\n\n".join(p for p in parts if p)
    if customer.script == "tw":
        subject, text = world.to_traditional.convert(subject), world.to_traditional.convert(text)
    return subject, text


def _retell(rng: random.Random, body: str, language: str) -> str:
    """Some of the template's clauses, each with a chance of 50 % (at least one)."""
    clauses = [c for c in _CLAUSES[language].split(body) if c]
    kept = [c for c in clauses if rng.random() < 0.5] or [rng.choice(clauses)]
    text = ("" if language == "zh" else " ").join(kept)
    return text if language != "zh" or text.endswith(("。", "？", "！")) else text[:-1] + "。"


def _kind(rng: random.Random) -> tuple[str, str]:
    roll, priority = rng.random(), "general"
    for name, share in PRIORITY_SHARES:
        if roll < share:
            priority = name
            break
        roll -= share
    names, weights = zip(*CATEGORY_SHARES[priority], strict=True)
    return priority, rng.choices(names, weights=weights)[0]


def open_ticket(world: World, number: int, created: datetime, spike: Spike | None) -> Life:
    """A new ticket: who wrote, about what, and in which words."""
    rng = world.rng
    if spike is not None:
        customer = rng.choice(world.by_script[spike.script])
        priority, category = spike.priority, spike.category
        template = (rng.choice(spike.subjects), rng.choice(spike.bodies))
        context, retell = rng.choice((0, 0, 1)), False  # mass reports: short, alike
    else:
        priority, category = _kind(rng)
        customer = world.customer()
        if category == "sensitive":  # an angry customer complains again within days
            world.angry = [(t, c) for t, c in world.angry if t > created - timedelta(days=4)]
            if world.angry and rng.random() < 0.3:
                customer = world.angry.pop(0)[1]
            elif rng.random() < 0.04:
                world.angry.append((created, customer))
        template = rng.choice(TEMPLATES[category][customer.language])
        context, retell = rng.choice((3, 4)), True
    subject, text = compose(rng, world, customer, *template, context=context, retell=retell)
    return Life(world, number, created, customer, priority, category, subject, text)


def duplicate(world: World, number: int, created: datetime, held: deque[Life]) -> Life | None:
    """A customer writing the same again as a new mail, within a day and a half of their
    ticket, which an agent merges into it; None when no held ticket fits."""
    rng = world.rng
    for _ in range(3):
        target = held[rng.randrange(max(0, len(held) - 60), len(held))] if held else None
        if target is None or target.created < created - MERGE_WINDOW:
            continue
        if target.ticket.get("merged_into"):
            continue
        closed = target.closed_by()
        policy = target.policy
        merge_at = _at(policy.calendar.add(created, policy.target("first_response") * rng.random()))
        if closed is not None and closed <= merge_at:
            continue
        t = target.ticket
        prefix = "再次发送：" if target.customer.language == "zh" else "Sending again: "
        first_text = target.messages[0]["text"]
        life = Life(world, number, created, target.customer, t["priority"], t["category"],
                    t["subject"], f"{prefix}{first_text}")  # fmt: skip
        watch_complaints(life)
        with suppress(_Horizon):
            life.merge_into(merge_at, world.agent(t["team"]), target)
            life.archive(merge_at + ARCHIVE_AFTER + timedelta(seconds=rng.randrange(60)))
        return life
    return None


def generate(world: World, store: Store, count: int, log: Callable[[str], None]) -> None:
    """Open `count` tickets over the year, in order; each lives its whole story at once, then
    waits in `held` for HOLD (a duplicate may be merged into it) before it goes to the store."""
    rng = world.rng
    spikes = [(spike, max(3, round(spike.share * count))) for spike in SPIKES]
    arrivals: list[tuple[datetime, Spike | None]] = [
        (t, None) for t in opening_times(rng, count - sum(n for _, n in spikes))
    ]
    for spike, n in spikes:
        for _ in range(n):
            moment = spike.start + timedelta(hours=spike.hours * rng.random() ** 1.5)
            arrivals.append((moment.astimezone(UTC).replace(microsecond=0), spike))
    arrivals.sort(key=lambda a: a[0])
    held: deque[Life] = deque()
    facts = world.facts
    for made, (created, spike) in enumerate(arrivals, start=1):
        while held and held[0].created < created - HOLD:
            _store(store, held.popleft(), facts)
        number = store.allocate_ticket_number()
        life = None
        if spike is None and rng.random() < 0.01:
            life = duplicate(world, number, created, held)
        if life is None:
            life = open_ticket(world, number, created, spike)
            watch_complaints(life)
            with suppress(_Horizon):
                story(life)
        held.append(life)
        if made % COMMIT_EVERY == 0:
            store.commit()
            log(f"  {made} tickets made")
    while held:
        _store(store, held.popleft(), facts)


def _store(store: Store, life: Life, facts: Counter[str]) -> None:
    life.finish()
    ticket = life.ticket
    store.add_ticket(ticket)
    for message in life.messages:
        store.add_message(message)
    actions = {e["action"] for e in ticket["events"]}
    facts.update(f"action:{a}" for a in actions)
    facts.update(
        (
            f"status:{ticket['status']}",
            f"priority:{ticket['priority']}",
            f"category:{ticket['category']}",
            f"week:{(life.created - START) // timedelta(weeks=1)}",
        )
    )
    facts["tickets"] += 1
    facts["messages"] += len(life.messages)
    facts["events"] += len(ticket["events"])
    facts["merged"] += bool(ticket.get("merged_into"))
    facts["archived"] += bool(ticket.get("archived_at"))


def _build(data: str, count: int, seed: int, results: Any) -> None:
    """Child process: make the year, commit in batches, compact; report what was built."""
    logging.basicConfig(level=logging.WARNING)
    config = config_for(Path(data))
    rng = random.Random(seed)
    start = time.perf_counter()
    base = customers(rng, max(300, count * 3 // 10))
    by_script: dict[str, list[Customer]] = {}
    for customer in base:
        by_script.setdefault(customer.script, []).append(customer)
    agents_of: dict[str, list[Agent]] = {}
    for agent in config.agents:
        agents_of.setdefault(agent.team or "", []).append(agent)
    world = World(rng, config, base, by_script, agents_of, opencc.OpenCC("s2twp"))
    with Store.open(Path(data)) as store:
        generate(world, store, count, lambda line: print(line, flush=True))
        made = time.perf_counter() - start
        store.commit()
        store.compact()  # all in db.json, the journal empty: what a daemon would load
    results.put(
        {
            "seconds": time.perf_counter() - start,
            "make_seconds": made,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "facts": dict(world.facts),
        }
    )


def build(data: Path, count: int, seed: int) -> dict[str, Any]:
    """The store, made in a child process so this one's memory is the measurement's own."""
    return in_child(_build, str(data), count, seed)


def cached_store(args: argparse.Namespace) -> tuple[Path, dict[str, Any], bool]:
    """The data directory for these arguments, built unless a finished build is there already
    (built.json is written last, so a build that was interrupted is made again)."""
    base = args.keep or Path(tempfile.gettempdir()) / (
        f"maild-digest-bench-{args.tickets}t-seed{args.seed}-g{GENERATOR}"
    )
    marker = base / "built.json"
    wanted = {"tickets": args.tickets, "seed": args.seed, "generator": GENERATOR}
    if marker.exists() and not args.rebuild:
        built = json.loads(marker.read_text())
        if built.get("key") == wanted:
            return base / "data", built, True
    shutil.rmtree(base / "data", ignore_errors=True)
    marker.unlink(missing_ok=True)
    (base / "data").mkdir(parents=True)
    print(f"building the store in {base} (cached for the next run) ...", flush=True)
    built = {**build(base / "data", args.tickets, args.seed), "key": wanted}
    marker.write_text(json.dumps(built))
    return base / "data", built, False


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Split:
    """Where one digest's time went, in seconds."""

    relevant: float = 0.0  # metrics.relevant: the tickets any of the five periods can count
    measure: float = 0.0  # metrics.measure, five periods
    documents: float = 0.0  # report._documents: the first messages' texts per period
    hot_topics: float = 0.0
    clusters: float = 0.0
    build: float = 0.0  # the whole of report.build
    render_zh: float = 0.0
    render_en: float = 0.0
    gc: float = 0.0  # in garbage collections, wherever they struck
    gc_full: int = 0

    @property
    def metrics(self) -> float:
        return self.relevant + self.measure

    @property
    def other(self) -> float:
        """The rest of build: periods, figures, notes."""
        return self.build - self.metrics - self.documents - self.hot_topics - self.clusters

    @property
    def total(self) -> float:
        return self.build + self.render_zh + self.render_en


class Probe(_Probe):
    """Timing wrappers around report.build's parts (maild.report's module globals), on
    sla_sweep's probe (its gc callback and timing wrapper serve any split)."""

    def __init__(self) -> None:
        super().__init__()
        self.split = Split()  # type: ignore[assignment]

    @contextmanager
    def installed(self) -> Iterator[None]:
        names = ("relevant", "measure", "_documents", "hot_topics", "clusters")
        saved = {name: getattr(maild.report, name) for name in names}
        for name, function in saved.items():
            setattr(maild.report, name, self.timed(name.lstrip("_"), function))
        gc.callbacks.append(self.collected)
        try:
            yield
        finally:
            gc.callbacks.remove(self.collected)
            for name, function in saved.items():
                setattr(maild.report, name, function)


def digest(store: Store, config: Config, period: Period) -> tuple[Report, dict[str, Rendered]]:
    """What the daemon does at the slot for one edition: build the report, render per list."""
    report = maild.report.build(store, config, period, NOW)
    return report, {language: render(report, config, language) for language in ("zh", "en")}


def digest_round(
    store: Store, config: Config, period: Period
) -> tuple[Split, Report, dict[str, Rendered]]:
    probe = Probe()
    split = probe.split
    with probe.installed():
        start = time.perf_counter()
        report = maild.report.build(store, config, period, NOW)
        split.build = time.perf_counter() - start
        rendered = {}
        for language in ("zh", "en"):
            start = time.perf_counter()
            rendered[language] = render(report, config, language)
            setattr(split, f"render_{language}", time.perf_counter() - start)
    return split, report, rendered


def median_split(splits: list[Split]) -> Split:
    """The round whose total is the median (the lower one of an even count), whole: medians
    taken part by part would not add up to the total."""
    return sorted(splits, key=lambda s: s.total)[(len(splits) - 1) // 2]


def print_split(title: str, split: Split, rounds: list[Split]) -> None:
    totals = ", ".join(f"{s.total * 1000:.0f}" for s in rounds)

    def share(part: float) -> str:
        return f"{part / split.total:5.1%}" if split.total else ""

    print(f"{title}")
    print(f"  total: build + render zh + en   {ms(split.total)}   (rounds: {totals} ms)")
    print(f"    build (report.build)          {ms(split.build)}  {share(split.build)}")
    print(f"      metrics, 5 periods          {ms(split.metrics)}  {share(split.metrics)}")
    print(f"        relevant()                {ms(split.relevant)}")
    print(f"        measure() x 5             {ms(split.measure)}")
    print(f"      documents (first messages)  {ms(split.documents)}  {share(split.documents)}")
    print(f"      hot topics                  {ms(split.hot_topics)}  {share(split.hot_topics)}")
    print(f"      clusters                    {ms(split.clusters)}  {share(split.clusters)}")
    print(f"      other (figures, notes)      {ms(split.other)}")
    print(f"    render zh                     {ms(split.render_zh)}  {share(split.render_zh)}")
    print(f"    render en                     {ms(split.render_en)}  {share(split.render_en)}")
    print(f"  (in garbage collection, above   {ms(split.gc)}, full collections: {split.gc_full})")


def print_built(built: dict[str, Any], data: Path, reused: bool) -> None:
    facts = Counter(built["facts"])
    count = facts["tickets"]
    size = (data / "db.json").stat().st_size / 2**20
    how = "reused from the cache" if reused else "built"
    print(
        f"store {how}: {count} tickets, {facts['messages']} messages, {facts['events']} events "
        f"({facts['events'] / count:.1f} per ticket); db.json {size:.0f} MiB, in {data}"
    )
    print(
        f"  building took {built['seconds']:.0f} s, the last commit and the compaction "
        f"{built['seconds'] - built['make_seconds']:.0f} s of it (child process, peak RSS "
        f"{built['peak_mib']:.0f} MiB): not the point, printed for context"
    )
    weeks = [facts[f"week:{w}"] for w in range(52)]
    print(
        f"  opened per week: first {weeks[0]}, median {statistics.median(weeks):.0f}, "
        f"max {max(weeks)}, reported week (W47) {weeks[-1]}"
    )

    def share(key: str) -> str:
        return f"{facts[key] / count:.0%}"

    print(
        "  priority: " + ", ".join(f"{p} {share('priority:' + p)}" for p, _ in PRIORITY_SHARES)
        + "; category: " + ", ".join(f"{c} {share('category:' + c)}" for c in TEMPLATES)
    )  # fmt: skip
    statuses = ", ".join(
        f"{s} {facts['status:' + s]}" for s in ("new", "open", "pending", "resolved", "closed")
    )
    print(f"  status at NOW: {statuses}; archived {facts['archived']}")
    actions = ("agent_reply", "reopened", "rated", "notice", "update_sent", "priority",
               "category", "comment")  # fmt: skip
    print(
        "  tickets with " + ", ".join(f"{a} {share('action:' + a)}" for a in actions)
        + f"; merged {facts['merged']}, complaints_alert {facts['complaints_alert']}"
    )  # fmt: skip


def print_sanity(report: Report, rendered: dict[str, Rendered]) -> None:
    """The digest's figures in a few lines, to judge whether the store is a plausible year."""
    m = report.metrics
    p = report.period
    print(
        f"\nthe digest ({p.label}, {p.start:%Y-%m-%d} to {p.end:%Y-%m-%d}, "
        f"complete: {report.complete})"
    )
    by_priority = ", ".join(f"{k} {v}" for k, v in sorted(m.opened_by_priority.items()))
    print(f"  opened {m.opened} ({by_priority}); resolved {m.resolved}, closed {m.closed} "
          f"(confirmed {m.closes['confirmed']}, silence {m.closes['silence']}, "
          f"agent {m.closes['agent']}), reopened {m.reopened}, merged {m.merged}")  # fmt: skip
    print(f"  backlog {m.backlog} at the week's end, by age {m.backlog_age}")

    def hours(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds / 3600:.1f} h"

    sla = m.sla
    rate = "-" if sla.rate is None else f"{sla.rate:.1%}"
    still_open = sum(b.still_open for b in m.breaches)
    print(
        f"  SLA compliance {rate} ({sla.met} met, {sla.missed} missed); breaches "
        f"{len(m.breaches)} ({still_open} still open); warnings {m.warnings}, escalations "
        f"{dict(sorted(m.escalations.items()))}; updates {m.updates_sent} "
        f"({m.updates_on_time} on time)"
    )
    print(
        f"  first response median {hours(m.first_response_median_s)}, p90 "
        f"{hours(m.first_response_p90_s)} ({len(m.first_response_s)}); resolution median "
        f"{hours(m.resolution_median_s)} ({len(m.resolution_s)})"
    )
    mean = "-" if m.satisfaction_mean is None else f"{m.satisfaction_mean:.2f}"
    print(
        f"  satisfaction {len(m.scores)} ratings, mean {mean}, {len(m.low_scores)} low; "
        f"repeated complainants {len(m.complainants)}; agents {len(m.agents)} (busiest "
        f"{m.agents[0].name if m.agents else '-'}: {m.agents[0].handled if m.agents else 0} "
        "tickets)"
    )
    print(f"  hot topics ({len(report.topics)}), top 5:")
    for topic in report.topics[:5]:
        print(
            f"    {topic.term!r}: {topic.count} tickets, baseline {topic.baseline:.1f}, "
            f"e.g. {', '.join(topic.examples)}"
        )
    if report.clusters:
        top = report.clusters[0]
        print(
            f"  clusters {len(report.clusters)}; the largest: {top.label!r}, "
            f"{len(top.tickets)} tickets from {top.customers} customers"
        )
    else:
        print("  clusters: none")
    print(f"  notes {len(report.notes)}: {', '.join(n.kind for n in report.notes)}")
    for language, mail in rendered.items():
        print(
            f"  {language}: {mail.subject!r}; HTML {len(mail.html) / 1024:.0f} KiB, "
            f"text {len(mail.text) / 1024:.0f} KiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="report the median of this many")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="build the store here, or reuse the one there"
    )
    parser.add_argument("--rebuild", action="store_true", help="build even if a cache exists")
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top 15")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    data, built, reused = cached_store(args)
    print_built(built, data, reused)
    config = config_for(data)
    period = week_of(NOW, ZONE).previous()

    start = time.perf_counter()
    store = Store.open(data, readonly=True)
    opened = time.perf_counter() - start
    gc.collect()  # as in a daemon that loaded it long ago: all in the oldest generation
    loaded_rss, loading_peak = current_rss_mib(), rss_mib()
    print(f"\nopen + load the store (Store.open, context): {ms(opened)}; RSS {loaded_rss:.0f} MiB")

    with store:
        cold, report, rendered = digest_round(store, config, period)
        print_split(
            f"\ndigest of {period.label}, first in this process (cold caches)", cold, [cold]
        )
        rounds = [digest_round(store, config, period)[0] for _ in range(args.rounds)]
        middle = median_split(rounds)
        print_split(
            f"\ndigest of {period.label}, median of {args.rounds} more (that round's parts)",
            middle,
            rounds,
        )
        peak_rss = rss_mib()

        tracemalloc.start()
        digest(store, config, period)
        _, traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print("\nmemory")
        print(f"  RSS with the store loaded:           {loaded_rss:7.0f} MiB")
        print(f"  peak RSS while loading it:           {loading_peak:7.0f} MiB (parsing db.json)")
        print(f"  peak RSS after the digests:          {peak_rss:7.0f} MiB (high-water mark)")
        print(f"  tracemalloc peak of build + render:  {traced / 2**20:7.1f} MiB above the store")

        print_sanity(report, rendered)
        if args.profile:
            profile("one digest: build + render zh + en", lambda: digest(store, config, period), 15)

    met = "MET" if middle.total < TARGET_SECONDS else "NOT MET"
    print(
        f"\ntarget: one weekly digest (build + render zh + en) over {built['facts']['tickets']} "
        f"tickets under {TARGET_SECONDS:.0f} s: {met} ({middle.total:.2f} s, median of "
        f"{args.rounds}; {cold.total:.2f} s the first time in a process)"
    )


if __name__ == "__main__":
    main()
