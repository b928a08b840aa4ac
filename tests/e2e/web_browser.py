#!/usr/bin/python3
"""The desk in a real browser: Debian's headless chromium driven by chromedriver (selenium),
against `kigen counter web`, the card rig and a real database. Keyboard only, as at a counter
with a keyboard-wedge scanner: every step types into the element that has the focus.
Prints TAP lines; web.sh counts them. Explicit waits only (a loaded machine is slow, not wrong).

Environment: DESK_URL, IDS (JSON: resident -> application ID), ENVELOPE (the B0001-000001 code
of the envelope that comes back), SIGN AUTH JUKI (the holder's PINs), RIG and R (the card rig),
CARD_ARGS (its card options), PROFILE (chromium's profile folder), SHOTS (optional: where the
screenshots for the README go)."""
import json
import os
import shlex
import subprocess
import sys

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["DESK_URL"]
IDS = json.loads(os.environ["IDS"])
SIGN, AUTH, JUKI = os.environ["SIGN"], os.environ["AUTH"], os.environ["JUKI"]
SHOTS = os.environ.get("SHOTS", "")
R = os.environ["R"]
failed = 0


def check(name, ok, detail=""):
    global failed
    print(("ok - " if ok else "not ok - ") + name, flush=True)
    if not ok:
        failed += 1
        if detail:
            print("# " + str(detail).replace("\n", "\n# "), flush=True)


opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--user-data-dir=" + os.environ["PROFILE"], "--window-size=1280,1200", "--lang=ja",
          "--no-first-run", "--no-default-browser-check", "--disable-extensions"):
    opts.add_argument(a)
drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
wait = WebDriverWait(drv, 60)


def el(i):
    return drv.find_element(By.ID, i)


def text_of(i):
    return el(i).text


def until(what, cond):
    """Waits for cond(); a timeout is a failed check named what, and the script goes on."""
    try:
        wait.until(lambda d: cond())
        return True
    except TimeoutException:
        check(what + " (timed out)", False, drv.find_element(By.TAG_NAME, "body").text[:1500])
        return False


def type_keys(*keys):
    drv.switch_to.active_element.send_keys(*keys)


def shot(name):
    if SHOTS:
        drv.save_screenshot(os.path.join(SHOTS, name))


def card_state():
    return el("card-state").get_attribute("data-state") or ""


def rig(*args):
    subprocess.run([os.environ["RIG"], "card", R] + shlex.split(os.environ["CARD_ARGS"]) + list(args),
                   check=True, stdout=subprocess.DEVNULL)


def verifies():
    with open(os.path.join(R, "card.log")) as f:
        return [l.split()[1] for l in f if l.startswith("VERIFY")]


def scan(app_id):
    until("the scan field has the focus", lambda: drv.switch_to.active_element.get_attribute("id") == "scan")
    # A refused scan stays selected, so the next scan replaces it.
    type_keys(app_id, Keys.ENTER)


def next_form():
    until("the result offers the next form", lambda: el("next-form").is_displayed())
    type_keys(Keys.ENTER)


try:
    drv.get(URL)
    check("GET / is a Japanese page (html lang=ja)", drv.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ja")
    until("the sign-in field has the focus", lambda: drv.switch_to.active_element.get_attribute("id") == "staff")
    type_keys("bad id!", Keys.ENTER)
    until("a malformed staff ID is refused", lambda: "職員ID" in text_of("signin-msg"))
    # The refused text stays selected: what is typed or scanned next replaces it.
    shot("web-signin.png")
    type_keys("S-WEB1", Keys.ENTER)
    until("sign-in opens the counter screen", lambda: el("counter-view").is_displayed())
    check("the header names the staff member signed in", text_of("staff-name") == "S-WEB1")

    # A mistyped ID (one digit changed) is refused at once by its check digit.
    good = IDS["H1"]
    bad = good[:10] + str((int(good[10]) + 1) % 10) + good[11:]
    scan(bad)
    until("a mistyped ID is refused at once (check digit)", lambda: "チェックデジット" in text_of("scan-msg"))
    check("a mistyped ID shows no holder", not el("holder").is_displayed())

    # A good form: whose it is, the card checked before any PIN, then the PINs, then 受付完了.
    open(os.path.join(R, "card.log"), "w").close()
    scan(good)
    until("the form's holder is shown", lambda: "窓口　太郎1 様" in text_of("h-name"))
    check("what is renewed is shown", "電子証明書" in text_of("h-what"))
    check("the validity is shown in the Japanese calendar", "令和" in text_of("h-valid"))
    until("the live panel shows the holder's card before any PIN", lambda: card_state() == "holder")
    check("the 署名用 box is there for a holder with that certificate", el("row-sign").is_displayed())
    check("the PIN boxes mask what is typed", all(el(i).get_attribute("type") == "password" and
                                                  el(i).get_attribute("autocomplete") == "off"
                                                  for i in ("pin-sign", "pin-auth", "pin-juki")))
    check("no PIN was sent while the card was only looked at", verifies() == [], verifies())
    check("the first PIN box has the focus after the scan", drv.switch_to.active_element.get_attribute("id") == "pin-sign")
    shot("web-counter-card.png")
    type_keys(SIGN, Keys.ENTER)
    type_keys(AUTH, Keys.ENTER)
    type_keys(JUKI, Keys.ENTER)
    until("a good form is 受付完了", lambda: "受付完了" in text_of("r-head"))
    check("the outcome says the PINs matched", "確認できました" in text_of("r-verdict"), text_of("r-verdict"))
    check("the boxes are empty after the PINs went", all(el(i).get_attribute("value") == ""
                                                         for i in ("pin-sign", "pin-auth", "pin-juki")))
    check("each PIN was verified once", sorted(verifies()) == ["0018", "001B", "001C"], verifies())
    until("today's list at this desk shows the redemption", lambda: good in text_of("today"))
    shot("web-counter-redeemed.png")

    # A swapped card: the holder's card is on the reader, then another's replaces it.
    next_form()
    scan(IDS["H4"])
    until("the holder's card is recognised", lambda: card_state() == "holder")
    rig("--serial", "0B0B0B0B0B0B")
    open(os.path.join(R, "card.log"), "w").close()
    until("a swapped card shows as not the holder's before any PIN", lambda: card_state() == "other_holder")
    check("the panel says so in words", "ご本人のものではありません" in text_of("card-state"))
    type_keys(SIGN, Keys.ENTER)
    type_keys(AUTH, Keys.ENTER)
    type_keys(JUKI, Keys.ENTER)
    until("a swapped card is refused", lambda: "一致しません" in text_of("r-verdict"))
    check("a swapped card: the outcome is card mismatch", "カードがご本人のものと一致しません" in text_of("r-verdict"))
    check("a swapped card: no VERIFY reached the card", verifies() == [], verifies())
    rig()

    # An expired form: answered before the card, and the 文書照会 route starts.
    next_form()
    scan(IDS["E1"])
    until("an expired form says so on the scan", lambda: "有効期限切れ" in text_of("h-valid"))
    check("an expired form asks for no PIN", not el("pin-boxes").is_displayed())
    until("the record button has the focus", lambda: drv.switch_to.active_element.get_attribute("id") == "redeem")
    type_keys(Keys.ENTER)
    until("an expired form's outcome is shown", lambda: "有効期限が過ぎています" in text_of("r-verdict"))
    check("an expired form: the next step is 文書照会", "文書照会" in text_of("r-next"))

    # A wrong PIN: one try used, the 文書照会 route, and the PIN named.
    next_form()
    open(os.path.join(R, "card.log"), "w").close()
    scan(IDS["H3"])
    until("the holder's card again", lambda: card_state() == "holder")
    type_keys(SIGN, Keys.ENTER)
    type_keys("1111", Keys.ENTER)
    type_keys(JUKI, Keys.ENTER)
    until("a wrong PIN is shown as a mismatch", lambda: "暗証番号が一致しません" in text_of("r-verdict"))
    check("a wrong PIN: the next step is 文書照会", "文書照会" in text_of("r-next"))
    check("a wrong PIN: the PIN is named", "利用者証明用" in text_of("r-pin"), text_of("r-pin"))
    v = verifies()
    check("a wrong PIN: no PIN was tried after it", v[-1:] == ["0018"] and len(set(v)) == len(v), v)
    shot("web-counter-mismatch.png")

    # The next holder's card now has a counter below its maximum: the panel warns before any PIN.
    next_form()
    scan(IDS["H5"])
    until("a PIN near its lock shows before any PIN is typed",
          lambda: card_state() == "holder" and "来庁" in text_of("card-state"))

    # The face-authentication box (いずれの暗証番号も設定しない), by keyboard: back from the first
    # PIN box to the box, tick it, and the card alone decides (no PIN goes to it).
    open(os.path.join(R, "card.log"), "w").close()
    type_keys(Keys.SHIFT, Keys.TAB)
    check("Shift+Tab from the first PIN box reaches the face box", drv.switch_to.active_element.get_attribute("id") == "face")
    type_keys(Keys.SPACE)
    type_keys(Keys.ENTER)
    until("with the face box ticked, Enter goes to the button", lambda: drv.switch_to.active_element.get_attribute("id") == "redeem")
    type_keys(Keys.ENTER)
    until("the face box with the holder's card is 受付完了", lambda: "受付完了" in text_of("r-head"))
    check("the face box: no VERIFY reached the card", verifies() == [], verifies())

    # Returned mail: the back office scans the envelope and picks the reason.
    el("go-returns").click()
    until("the returned-mail screen opens with the scan field focused",
          lambda: drv.switch_to.active_element.get_attribute("id") == "rscan")
    type_keys(os.environ["ENVELOPE"], Keys.ENTER)
    until("the returned envelope's notice is shown", lambda: "窓口　太郎6 様" in text_of("rh-name"))
    check("the address it was mailed to is shown", "東京都新宿区新宿" in text_of("rh-addr"))
    type_keys("2")
    check("a number key picks the reason", drv.switch_to.active_element.get_attribute("value") == "moved_unknown")
    shot("web-returns.png")
    type_keys(Keys.ENTER)
    until("the return is recorded", lambda: "返戻として登録しました" in text_of("rdone"))
    check("the reason is in the confirmation", "転居先不明" in text_of("rdone"))
finally:
    drv.quit()
sys.exit(0)
