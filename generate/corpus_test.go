package generate

import (
	"slices"

	"github.com/quarry-kb/quarry"
)

// A small hand-written help centre, in the style of the sample corpus,
// for the extractive answerer's tests and its calibration.

func chunk(docID, title, heading, text string) quarry.Chunk {
	return quarry.Chunk{ID: docID + "#0", DocID: docID, Path: docID + ".md", Title: title, Heading: heading, Text: text}
}

var corpusEN = []quarry.Chunk{
	chunk("account/delete-your-account", "Closing and deleting your account", "How to delete your account",
		"1. In the Kestrel Home app, go to Account > Privacy > Delete account.\n2. Enter your password and, if two-step verification is on, your code.\n3. Confirm. We send a confirmation email.\n\nYour account is deactivated right away but not yet deleted. For 14 days you can cancel the deletion by signing in again and choosing Keep my account."),
	chunk("returns/refund-status", "Refund status", "Refund times",
		"Once the warehouse has inspected your return, we issue the refund within 2 business days. Refunds to credit cards usually appear within 5 to 10 business days, depending on your bank. Refunds to PayPal arrive within 3 days. If you paid with a gift card, the refund goes back to that gift card."),
	chunk("account/password-and-sign-in", "Password and sign-in", "Reset your password",
		"If you forgot your password, tap Forgot password on the sign-in screen and enter your account email. We send you a reset link that expires after 1 hour. Your new password must be at least 10 characters long."),
	chunk("shipping/shipping-to-canada", "Shipping to Canada", "Delivery times",
		"Orders to Canada ship from our warehouse in Ontario. Standard delivery takes 3 to 6 business days, and express delivery takes 1 to 2 business days. Duties and taxes are included in the price at checkout."),
	chunk("account/household-sharing", "Household sharing", "Sharing a home",
		"The Owner of a home can invite up to 10 members. Each member needs their own Kestrel Home account. Members can control devices but cannot change billing or delete the home."),
	chunk("account/two-step-verification", "Two-step verification", "",
		"Two-step verification adds a code to your sign-in. You can receive codes by text message or from an authenticator app. Keep your backup codes somewhere safe, in case you lose your phone."),
	chunk("devices/outdoor-camera-battery", "Outdoor camera battery", "Battery life",
		"The Outdoor Camera C3 battery lasts up to 6 months with default settings. Battery life is shorter in cold weather and with frequent motion events. Charge the battery with the included USB-C cable; a full charge takes about 5 hours."),
	chunk("shipping/order-tracking", "Order tracking", "Track your order",
		"You can track your order in the app under Account > Orders. We email you a tracking number when your order ships. Orders placed before 2 p.m. ship the same day."),
	chunk("billing/payment-methods", "Payment methods", "Accepted payment methods",
		"We accept Visa, Mastercard, American Express and Discover. You can also pay with PayPal or a Kestrel gift card. Your payment method is charged when your order ships."),
}

var corpusZH = []quarry.Chunk{
	chunk("returns/cn-returns-refunds", "退货退款政策", "退款时效",
		"仓库签收退货并检测无误后，退款将在3个工作日内原路退回到您的支付账户。不同支付方式的到账时间请参考《支付方式》页面。"),
	chunk("returns/cn-seven-days", "退货退款政策", "七天无理由退货",
		"自签收商品的次日起7天内，在商品完好、配件齐全的前提下，您可以申请七天无理由退货。无理由退货的寄回运费由顾客承担。"),
	chunk("returns/cn-apply", "退货退款政策", "申请步骤",
		"1. 打开凯翎智家 App，进入「我的 > 我的订单」，找到需要退货的订单；\n2. 点击「申请售后」，选择「退货退款」或「换货」，填写原因并上传照片；\n3. 审核通过后，按页面提示的地址寄回商品。\n\n售后申请一般在24小时内完成审核。"),
	chunk("account/cn-account-security", "账户安全", "账户保护",
		"为了保护您的账户安全，建议开启两步验证。登录新设备时，我们会向您绑定的手机发送验证码。如果账户出现异常登录，系统会自动锁定账户24小时。"),
	chunk("account/cn-membership-points", "会员积分", "积分规则",
		"每消费1元可获得1积分，积分可在商城抵扣现金，100积分抵扣1元。积分有效期为两年，过期自动清零。"),
	chunk("devices/cn-smart-lock-l2-faq", "智能门锁L2常见问题", "开锁方式",
		"智能门锁L2支持指纹、密码、NFC卡和App四种开锁方式。电池电量低于20%时，门锁会发出提示音并推送通知。"),
	chunk("billing/cn-invoices", "发票", "电子发票",
		"订单完成后，您可以在「我的 > 发票管理」中申请电子发票。电子发票将在3个工作日内发送到您的邮箱。"),
}

// retrieveFrom plays the retriever: it ranks the chunks by how many of
// the question's terms they hold (ties in corpus order), keeping those
// that share at least one, like a keyword leg would.
func retrieveFrom(corpus []quarry.Chunk, question string, k int) []quarry.Passage {
	q := termSet(question)
	type scored struct {
		c quarry.Chunk
		n int
	}
	var ss []scored
	for _, c := range corpus {
		n := 0
		for t := range termSet(c.Title + "\n" + c.Heading + "\n" + c.Text) {
			if q[t] {
				n++
			}
		}
		if n > 0 {
			ss = append(ss, scored{c, n})
		}
	}
	slices.SortStableFunc(ss, func(a, b scored) int { return b.n - a.n })
	var out []quarry.Passage
	for i, s := range ss {
		if i == k {
			break
		}
		out = append(out, quarry.Passage{Chunk: s.c, Score: float64(s.n)})
	}
	return out
}

// calibration holds questions whose passages answer them (with a
// substring of the sentence that does) and questions they do not answer
// although they share words with them.
var calibration = []struct {
	lang, question string
	answer         string // "" when the question cannot be answered
}{
	{"en", "How do I delete my account?", "go to Account > Privacy > Delete account"},
	{"en", "How long do refunds to a credit card take?", "Refunds to credit cards usually appear within 5 to 10 business days"},
	{"en", "I forgot my password, how can I reset it?", "tap Forgot password"},
	{"en", "How long does delivery to Canada take?", "Standard delivery takes 3 to 6 business days"},
	{"en", "How long does the outdoor camera battery last?", "battery lasts up to 6 months"},
	{"en", "How many members can I invite to my home?", "invite up to 10 members"},
	{"en", "Can I cancel the deletion of my account?", "cancel the deletion"},
	{"en", "Can I pay with PayPal?", "pay with PayPal"},
	{"en", "When will my order ship?", "ship the same day"},
	{"en", "How do I change the email address on my account?", ""},
	{"en", "Can I transfer my account to another country?", ""},
	{"en", "Do you ship to Australia?", ""},
	{"en", "What is the warranty on the doorbell?", ""},
	{"en", "Can I pay for my order with Apple Pay?", ""},
	{"en", "Why is my account locked?", ""},
	{"en", "How do I cancel my order?", ""},
	{"en", "Is the camera waterproof?", ""},
	{"zh", "退款多久到账？", "退款将在3个工作日内原路退回"},
	{"zh", "七天无理由退货的运费谁承担？", "寄回运费由顾客承担"},
	{"zh", "积分的有效期是多久？", "积分有效期为两年"},
	{"zh", "如何申请电子发票？", "申请电子发票"},
	{"zh", "账户出现异常登录会怎样？", "锁定账户24小时"},
	{"zh", "售后申请多久审核？", "24小时内完成审核"},
	{"zh", "可以用支付宝付款吗？", ""},
	{"zh", "你们有线下门店吗？", ""},
	{"zh", "如何注销我的账户？", ""},
	{"zh", "门锁怎么恢复出厂设置？", ""},
	{"zh", "订单可以开纸质发票吗？", ""},
	{"zh", "退货需要多少钱运费险？", ""},
}

func corpusFor(lang string) []quarry.Chunk {
	if lang == "zh" {
		return corpusZH
	}
	return corpusEN
}

// corpusVocabulary is the Vocabulary of a corpus: a word is known when
// its terms (its stem, or the Han character) occur in some chunk's
// title, heading or text.
func corpusVocabulary(corpus []quarry.Chunk) *vocab {
	terms := map[string]bool{}
	for _, c := range corpus {
		for t := range termSet(c.Title + "\n" + c.Heading + "\n" + c.Text) {
			terms[t] = true
		}
	}
	v := &vocab{known: map[string]bool{}}
	for t := range terms {
		v.known[t] = true
	}
	v.stem = true
	return v
}
