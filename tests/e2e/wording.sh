#!/bin/bash
# The printed wording against the source documents: each document of the sample batch
# (build/render_bench) read back with pdftotext must carry, sentence by sentence, the sentences
# of J-LIS's notices it is made from (the 電子証明書の更新手続 leaflet for the certificate notice,
# the card notice and its 交付申請書, the 照会書兼回答書), and none of the sentences that are wrong
# for it (the J-LIS delegation sentence when the municipality mails; 「発行されていない」 on the
# form of a revoked signature certificate). White space is ignored: lines wrap anywhere.
source "$(dirname "$0")/../lib.sh"
BENCH=$ROOT/${BUILD:-build}/render_bench
sed "s|^  templates: .*|  templates: $ROOT/templates|" "$ROOT/fixtures/settings.yaml" >settings.yaml
mkdir out
"$BENCH" sample settings.yaml out >sets.tsv 2>/dev/null
check "the sample batch renders" test -s out/sheets-001.pdf

squeeze() { perl -CS -0777 -pe 's/\s+//g'; } # Unicode white space, as render.sh's page_text
page() { pdftotext -q -raw -f "$2" -l "$2" "$1" - | squeeze; }
# carries NAME PAGE-TEXT SENTENCE...: each sentence (white space removed) is on the page.
carries() {
	local name=$1 text=$2 s
	shift 2
	for s in "$@"; do
		s=${s//[[:space:]]/}
		case "$text" in
		*"$s"*) echo "ok - $name carries 「${s:0:40}」" ;;
		*) echo "not ok - $name carries 「${s:0:40}」" ;;
		esac
	done
}
lacks() {
	local name=$1 text=$2 s=$3
	case "$text" in *"$s"*) echo "not ok - $name does not say 「$s」" ;; *) echo "ok - $name does not say 「$s」" ;; esac
}

# Sheets of the sample: 1 card notice + 交付申請書 (J-LIS ID), 2 cert notice + form, 3 cert notice
# of a ten-year-old + form, 4 re-inquiry form, 5 card + 交付申請書, 6 cert notice + form of a
# revoked signature certificate, 7 card + 交付申請書 (no J-LIS ID), 8 cert notice + form.
card=$(page out/sheets-001.pdf 1)
appl=$(page out/sheets-001.pdf 2)
cert=$(page out/sheets-001.pdf 3)
form=$(page out/sheets-001.pdf 4)
minor=$(page out/sheets-001.pdf 5)
minor_form=$(page out/sheets-001.pdf 6)
revoked_form=$(page out/sheets-001.pdf 11)

# Seed 000: J-LIS's 電子証明書の更新手続 (the certificate notice). The seed's 「使いなくなります」 is
# a misprint of 「使えなくなります」, printed corrected.
carries "the certificate notice" "$cert" \
	"マイナンバーカードに書き込まれた電子証明書には5年の有効期限があります。" \
	"有効期限が過ぎた場合には、e-Tax等の電子申請やコンビニ交付・健康保険証等に使えなくなりますので、お住まいの市区町村の窓口で更新手続を行っていただくようお願いいたします。" \
	"電子証明書の更新にかかる手数料は、無料です。" \
	"※電子証明書のみ有効期限が過ぎた場合でも、対面の本人確認書類としては引き続き使えます。" \
	"同封物について" "点が封筒に封入されています。" "本書" "有効期限通知書" "照会書兼回答書" "照会書兼回答書封入用封筒" \
	"本人が更新手続をする場合" \
	"更新にはカード交付時に設定した暗証番号が必要です" \
	"署名用電子証明書………6～16桁の英数字" "利用者証明用電子証明書…4桁の数字" "住民基本台帳用…4桁の数字" \
	"※暗証番号を控えた用紙等があればお持ちいただくとスムーズです。" \
	"※暗証番号をお忘れの場合は窓口で再設定ができます。" \
	"※顔認証マイナンバーカードへの設定の切り替えを希望される方は、市区町村窓口でお申し出ください(★)。" \
	"顔写真は不要です" \
	"・市区町村の窓口で電子証明書更新申請書をご記入いただきます。" \
	"・電子証明書は、オンラインで確実な本人確認を行えるものであり、発行には対面での厳格な本人確認が必要なことから、市区町村又は市区町村が指定する郵便局の窓口でのみ更新できます(スマートフォン、パソコンによる申請はできません)。" \
	"・更新手続は予約制となっている市区町村もありますので、ホームページ等でご確認ください。" \
	"・更新当日は、健康保険証、コンビニ交付等のサービスを利用できない場合があります。また、e-Tax等、更新当日に利用できないサービスもありますので、各サービスの利用案内等をご確認ください。" \
	"代理人に更新手続きをお願いする場合" \
	"①申請者が照会書兼回答書に必要事項を記入し、同封した封筒に封入封かんの上、代理人に渡す" \
	"※照会書兼回答書に記入する暗証番号は、カード交付時に設定した暗証番号を記入してください。" \
	"※代理人申請時に暗証番号の照合ができない場合は、文書照会による再度来庁が必要となります。" \
	"※顔認証マイナンバーカードへの設定の切り替えを希望される方は、照会書兼回答書の「いずれの暗証番号も設定しない」にチェックをしてください(★)。" \
	"③市区町村職員が照会書兼回答書に記入された暗証番号により、新しい電子証明書を書き込みます" \
	"★顔認証マイナンバーカードについて" \
	"・暗証番号の設定を不要とし、利用者証明用電子証明書を用いる際の本人確認方法を顔認証又は目視に限定したカードです。" \
	"・顔認証マイナンバーカードの利用者証明用電子証明書は、健康保険証としての利用は可能ですが、マイナポータルなど暗証番号の入力を必要とする各種オンラインサービスでは利用できません。" \
	"・市区町村窓口で手続きができます。" \
	"マイナンバー総合フリーダイヤル" "0120-95-0178" \
	"マイナンバーカードの紛失・盗難などによる一時利用停止については、24時間365日受け付けます。" \
	"※一部IP電話等で上記ダイヤルに繋がらない場合は、050-3818-1250 におかけください。" \
	"Please direct any inquiries in English to the following number. For details, you can also check the website." \
	"如使用中文进行咨询，请拨打以下号码。详情也可访问主页进行确认。" \
	"如果您想使用中文洽詢，還請撥打以下電話專線聯絡，謝謝。詳細資訊請參閱網站。" \
	"한국어로 문의하시는 경우 이하의 전화번호로 연락주시요. 상세한 사항은 홈페이지에서 확인할 수 있습니다." \
	"Para informes en español, diríjase al número de teléfono indicado a continuación. También encontrará información detallada en la página web." \
	"Favor entrar em contato no número de telefone abaixo para consultas em português. Maiores detalhes podem ser consultadas também na homepage." \
	"This telephone number is toll-free corresponding to English, Chinese, Korean, Spanish and Portuguese." \
	"Tel : 0120-0178-27 URL: https://www.kojinbango-card.go.jp" \
	"更新手続ができる期間"

# Seed 003: J-LIS's card notice, and the 交付申請書's photo rules (顔写真のチェックポイント).
carries "the card notice" "$card" \
	"お持ちのマイナンバーカードについて有効期限が近づいています。有効期限の３か月前から更新手続が可能ですので、オンラインまたは郵送で更新手続をしてください。" \
	"※ スマートフォンやパソコン、証明用写真機からのオンライン更新手続が便利です。" \
	"①スマートフォンで申請（交付申請用QRコードは右下にあります。）" "②パソコンで申請" \
	"③証明用写真機で申請（交付申請用QRコードは右下にあります。）" "④郵送で申請" \
	"それぞれの申請手続については、有効期限のご案内パンフレットをご覧ください。" \
	"●この通知書は、交付申請書ではないため、郵送しても申請したことにはなりませんのでご注意ください。" \
	"マイナンバーカード・電子証明書の更新にかかる手数料は、無料です。" \
	"※有効期限が過ぎてしまった場合でも、無料で再発行することができます。" \
	"交付申請用ＱＲコード（ＵＲＬ）" "個人番号カード交付申請書" "有効期限のご案内パンフレット" "更新手続ができる期間"
carries "the 交付申請書" "$appl" \
	"個人番号カード交付申請書" "サイズ（縦 4.5cm×横 3.5cm）" "・最近６ヶ月以内に撮影" "・正面、無帽、無背景のもの" \
	"・裏面に、氏名、生年月日を記入してください。" "顔写真のチェックポイント" \
	"・顔が横向きのもの。" "・無背景でないもの。" "・正常時の顔貌と著しく異なるもの。" "・背景に影のあるもの。" \
	"・ピンボケや手振れにより不鮮明なもの。" "・帽子、サングラスをかけ人物を特定できないもの。" \
	"顔写真が規格外（暗い、トリミングができない等）である場合や、顔写真以外の理由で不備となることがありますのでご注意ください。" \
	"申請書には12ケタのマイナンバーを記載する必要があります。" \
	"〒219-8650" "日本郵便株式会社川崎東郵便局郵便私書箱第2号" "地方公共団体情報システム機構" \
	"個人番号カード交付申請書受付センター" "申請者の署名（自署）"
carries "the 照会書兼回答書" "$form" \
	"あなたの意思に基づく更新申請に相違がないか照会します。" \
	"（４）本書の有効期限は電子証明書の有効期限と同日です。" \
	"署名用電子証明書・利用者証明用電子証明書の更新申請は、私の意思によって申請するものに相違ありません。" \
	"※既に設定している数字４桁の個人番号カードの住民基本台帳ネットワークシステムに係るアプリケーションに関する暗証番号を記入してください。"

# Seed 002: a holder under 15 (or a 成年被後見人) applies through a 法定代理人.
carries "the certificate notice of a ten-year-old" "$minor" \
	"15歳未満の方又は成年被後見人の方は、法定代理人による手続きとなります。" "戸籍謄本" "登記事項証明書"
carries "the form of a ten-year-old" "$minor_form" "15歳未満の方又は成年被後見人の方は、法定代理人による手続きとなります。"
lacks "the certificate notice of an adult" "$cert" "法定代理人による手続き"

# A revoked signature certificate was issued: its form says it lapsed, never 「発行されていない」.
lacks "the form of a revoked signature certificate" "$revoked_form" "発行されていない"
carries "the form of a revoked signature certificate" "$revoked_form" "署名用電子証明書は失効しているため、記入は不要です。"
carries "the form of a holder never issued one" "$minor_form" "署名用電子証明書は発行されていないため、記入は不要です。"

# The municipality mails: no notice carries J-LIS's delegation sentence (output.jlis_delegation).
delegation="本件は、地方公共団体情報システム機構（J-LIS）が全国の市区町村長から委任を受けて実施しています。"
all=$(pdftotext -q -raw out/sheets-001.pdf - | squeeze)
lacks "no sheet (the municipality mails)" "$all" "全国の市区町村長から委任を受けて実施しています"
sed 's/^  jlis_delegation: false/  jlis_delegation: true/' settings.yaml >jlis.yaml
mkdir jlis
"$BENCH" sample jlis.yaml jlis >/dev/null 2>&1
carries "the card notice when J-LIS mails (jlis_delegation: true)" "$(page jlis/sheets-001.pdf 1)" "$delegation"
carries "the certificate notice when J-LIS mails" "$(page jlis/sheets-001.pdf 3)" "$delegation"
