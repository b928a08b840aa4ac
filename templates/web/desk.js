// desk.js: the counter desk in the browser. Keyboard and a keyboard-wedge scanner alone: every
// step is a field that takes Enter. Text from the server is set with textContent only.
// PINs: read from the boxes once, the boxes are emptied at once, and the values go in one POST
// body; nothing is kept in a variable, the URL, cookies or any browser storage.
'use strict';
(function () {
	const token = document.querySelector('meta[name="csrf-token"]').content;
	const $ = (id) => document.getElementById(id);
	const PIN_IDS = ['pin-sign', 'pin-auth', 'pin-juki'];
	let holder = null; // {id, has_sign_cert, expired}
	let pollTimer = null;
	let idlePolls = 0;
	let busy = false;

	async function post(path, fields) {
		const body = new URLSearchParams(fields || {}).toString();
		let res;
		try {
			res = await fetch(path, {
				method: 'POST',
				headers: {'X-CSRF-Token': token, 'Content-Type': 'application/x-www-form-urlencoded'},
				body: body,
				credentials: 'same-origin',
				cache: 'no-store',
			});
		} catch (e) {
			banner('窓口サーバーに接続できません。窓口のパソコンで kigen counter web が動いているか確認してください。');
			throw e;
		}
		if (res.status === 401) { // the session ended (idle too long): start again at sign-in
			location.replace('/');
			throw new Error('session');
		}
		if (!res.ok) {
			banner('要求が拒否されました（' + res.status + '）。ページを再読み込みしてください。');
			throw new Error('http ' + res.status);
		}
		banner('');
		return res.json();
	}

	function banner(text) {
		$('banner').textContent = text;
		$('banner').hidden = !text;
	}

	function show(view) {
		for (const v of ['signin-view', 'counter-view', 'returns-view'])
			$(v).hidden = v !== view;
		$('nav').hidden = view === 'signin-view';
	}

	function msg(id, text, bad) {
		$(id).textContent = text;
		$(id).className = 'msg' + (bad ? ' bad' : '');
	}

	// --- sign-in ------------------------------------------------------------------------
	$('staff').addEventListener('keydown', async (e) => {
		if (e.key !== 'Enter')
			return;
		const r = await post('/api/signin', {staff: $('staff').value.trim()});
		if (!r.ok) {
			msg('signin-msg', r.message, true);
			$('staff').select();
			return;
		}
		$('staff').value = '';
		$('staff-name').textContent = r.staff;
		openCounter();
	});

	$('signout').addEventListener('click', async () => {
		await post('/api/signout');
		location.replace('/');
	});

	// --- the counter --------------------------------------------------------------------
	function wipePins() {
		for (const id of PIN_IDS)
			$(id).value = '';
		$('face').checked = false;
		facePins();
	}

	function resetForm() {
		stopPolling();
		wipePins();
		holder = null;
		busy = false;
		for (const id of ['holder', 'card', 'pins', 'result'])
			$(id).hidden = true;
		$('redeem').disabled = false;
		$('scan').value = '';
		msg('scan-msg', '');
		$('scan').focus();
	}

	function openCounter() {
		show('counter-view');
		resetForm();
		loadToday();
	}

	$('go-counter').addEventListener('click', openCounter);

	$('scan').addEventListener('keydown', async (e) => {
		if (e.key !== 'Enter')
			return;
		e.preventDefault();
		const id = $('scan').value.trim();
		if (!id)
			return;
		resetForm();
		$('scan').value = id;
		const r = await post('/api/lookup', {id: id});
		if (!r.ok) {
			msg('scan-msg', r.message, true);
			$('scan').select();
			return;
		}
		holder = {id: r.app_id, has_sign_cert: r.has_sign_cert, expired: r.expired};
		$('h-name').textContent = r.name + ' 様';
		$('h-what').textContent = r.what;
		$('h-valid').textContent = r.valid_until + ' まで' + (r.expired ? '（有効期限切れ）' : '');
		$('h-valid').className = r.expired ? 'bad' : '';
		$('h-id').textContent = r.app_id;
		msg('scan-msg', r.expired ? 'この照会書兼回答書は有効期限が過ぎています。「記録する」で文書照会の手続に進みます。' : '', r.expired);
		$('holder').hidden = false;
		$('card').hidden = false;
		$('pins').hidden = false;
		$('row-sign').hidden = !r.has_sign_cert;
		$('pin-boxes').hidden = r.expired;
		$('face').parentElement.hidden = r.expired;
		$('redeem').textContent = r.expired ? '記録する (Enter)' : 'カードと照合する (Enter)';
		$('card-state').textContent = '確認中…';
		$('card-state').className = 'state';
		$('card-retries').textContent = '';
		startPolling();
		firstPinBox().focus();
	});

	function visiblePins() {
		return PIN_IDS.filter((id) => !$('row-' + id.slice(4)).hidden && !$('pin-boxes').hidden && !$('face').checked);
	}

	function firstPinBox() {
		const v = visiblePins();
		return v.length ? $(v[0]) : $('redeem');
	}

	function facePins() {
		const face = $('face').checked;
		for (const id of PIN_IDS) {
			$(id).disabled = face;
			if (face)
				$(id).value = '';
		}
	}
	$('face').addEventListener('change', facePins);
	$('face').addEventListener('keydown', (e) => {
		if (e.key === 'Enter') {
			e.preventDefault();
			firstPinBox().focus();
		}
	});

	for (const id of PIN_IDS) {
		$(id).addEventListener('keydown', (e) => {
			if (e.key !== 'Enter')
				return;
			e.preventDefault();
			const v = visiblePins();
			const i = v.indexOf(id);
			if (i >= 0 && i + 1 < v.length)
				$(v[i + 1]).focus();
			else
				redeem();
		});
	}
	$('redeem').addEventListener('click', redeem);

	async function redeem() {
		if (!holder || busy)
			return;
		busy = true;
		stopPolling();
		$('redeem').disabled = true;
		const fields = {id: holder.id, face: $('face').checked ? '1' : '0'};
		if (!holder.expired && !$('face').checked)
			for (const id of visiblePins())
				fields[id.slice(4)] = $(id).value;
		wipePins(); // the boxes are empty before the request leaves
		$('card-state').textContent = '照合中です。カードを動かさないでください…';
		let r;
		try {
			r = await post('/api/redeem', fields);
		} finally {
			for (const k of Object.keys(fields))
				fields[k] = '';
		}
		$('pins').hidden = true;
		$('card').hidden = true;
		const good = r.outcome === 'redeemed';
		$('r-head').textContent = good ? '○ 受付完了' : '× 受付できません';
		$('r-head').className = 'verdict ' + (good ? 'good' : 'bad');
		$('r-verdict').textContent = r.verdict;
		$('r-pin').textContent = r.pin_note || '';
		$('r-next').textContent = r.next;
		$('result').className = 'panel ' + (good ? 'good' : 'bad');
		$('result').hidden = false;
		$('next-form').focus();
		loadToday();
	}

	$('next-form').addEventListener('click', resetForm);

	document.addEventListener('keydown', (e) => {
		idlePolls = 0;
		if (e.key === 'Escape' && !$('counter-view').hidden)
			resetForm();
		if (e.key === 'Escape' && !$('returns-view').hidden)
			resetReturn();
	});

	// The live reader and card panel: read (no PIN, no VERIFY) every 1.5 s while a form is
	// shown, for at most 5 minutes without a key pressed.
	function startPolling() {
		stopPolling();
		idlePolls = 0;
		pollCard();
	}

	function stopPolling() {
		if (pollTimer)
			clearTimeout(pollTimer);
		pollTimer = null;
	}

	async function pollCard() {
		pollTimer = null;
		if (!holder || busy)
			return;
		const id = holder.id;
		let r;
		try {
			r = await post('/api/card', {id: id});
		} catch (e) {
			return;
		}
		if (!holder || busy || holder.id !== id)
			return;
		$('card-state').textContent = r.text;
		$('card-state').className = 'state ' + (r.good ? 'good' : 'bad');
		$('card-state').dataset.state = r.state;
		$('card-retries').textContent = r.retries || '';
		if (++idlePolls < 200)
			pollTimer = setTimeout(pollCard, 1500);
	}

	async function loadToday() {
		const r = await post('/api/today');
		const tbody = $('today').tBodies[0];
		tbody.textContent = '';
		for (const row of r.rows) {
			const tr = tbody.insertRow();
			for (const v of [row.time, row.app_id, row.name, row.verdict, row.staff])
				tr.insertCell().textContent = v;
		}
	}

	// --- returned mail ------------------------------------------------------------------
	function resetReturn() {
		$('rholder').hidden = true;
		$('rscan').value = '';
		msg('rscan-msg', '');
		for (const r of document.querySelectorAll('input[name="reason"]'))
			r.checked = false;
		$('rscan').focus();
	}

	$('go-returns').addEventListener('click', () => {
		resetForm();
		show('returns-view');
		$('rdone').textContent = '';
		resetReturn();
	});

	$('rscan').addEventListener('keydown', async (e) => {
		if (e.key !== 'Enter')
			return;
		e.preventDefault();
		const code = $('rscan').value.trim();
		if (!code)
			return;
		$('rdone').textContent = '';
		const r = await post('/api/return/find', {code: code});
		if (!r.ok) {
			$('rholder').hidden = true;
			msg('rscan-msg', r.message, true);
			$('rscan').select();
			return;
		}
		msg('rscan-msg', r.note || '', !!r.note);
		$('rh-name').textContent = r.name + ' 様';
		$('rh-addr').textContent = r.address;
		$('rh-mailed').textContent = r.mailed;
		$('rh-id').textContent = r.app_id;
		$('rholder').hidden = false;
		$('rholder').dataset.code = code;
		const first = document.querySelector('input[name="reason"]');
		if (first)
			first.focus();
	});

	$('rholder').addEventListener('keydown', (e) => {
		const reasons = document.querySelectorAll('input[name="reason"]');
		const n = parseInt(e.key, 10);
		if (n >= 1 && n <= reasons.length) {
			e.preventDefault();
			reasons[n - 1].checked = true;
			reasons[n - 1].focus();
		} else if (e.key === 'Enter') {
			e.preventDefault();
			markReturned();
		}
	});
	$('rmark').addEventListener('click', markReturned);

	async function markReturned() {
		const picked = document.querySelector('input[name="reason"]:checked');
		if (!picked) {
			msg('rscan-msg', '返戻の理由を選んでください（数字キー）。', true);
			return;
		}
		const r = await post('/api/return/mark', {code: $('rholder').dataset.code, reason: picked.value});
		if (!r.ok) {
			msg('rscan-msg', r.message, true);
			return;
		}
		resetReturn();
		$('rdone').textContent = r.message;
	}

	// --- start ----------------------------------------------------------------------------
	(async () => {
		const r = await post('/api/whoami');
		$('maint').textContent = r.maintenance || '';
		$('maint').hidden = !r.maintenance;
		if (r.staff) {
			$('staff-name').textContent = r.staff;
			openCounter();
		} else {
			show('signin-view');
			$('staff').focus();
		}
	})();
})();
