package generate

import "strings"

// synonymGroups is a small, hand-written lexicon of words that customer
// service questions and help centre articles use interchangeably, in
// English and Chinese. It is domain-general knowledge (how people ask
// about orders, money, accounts and time), not a list built from any
// knowledge base's questions: a customer asks "do I get my money back?"
// where the article says "we refund", "how long" where it says "within 5
// days", 退钱 where it says 退款. Each group is a set of interchangeable
// words; English words are stemmed like question terms, Chinese ones
// should be two characters, so that they match as Han bigram terms.
//
// Keep it short and generic: a synonym only earns partial credit
// (synonymCredit) and a wrong group costs precision everywhere.
var synonymGroups = [][]string{
	// Money.
	{"cost", "price", "fee", "charge", "pay", "spend"},
	{"refund", "reimburse", "repay"},
	{"cheap", "discount", "off", "reduced", "saving"},
	{"free", "waived"},
	// Orders and delivery.
	{"deliver", "delivery", "ship", "shipping", "shipment", "arrive", "send"},
	{"parcel", "package", "order", "shipment"},
	{"lost", "missing", "stolen"},
	{"return", "send back"},
	// Changing one's mind.
	{"cancel", "undo", "revoke", "withdraw", "stop"},
	{"change", "modify", "edit", "update", "correct"},
	{"buy", "purchase", "order"},
	// Time.
	{"annual", "yearly", "year"},
	{"monthly", "month"},
	{"day", "days", "daily"},
	{"expire", "expiry", "expiration", "valid", "lapse"},
	// Accounts and devices.
	{"sign", "log", "login"},
	{"password", "passcode", "passphrase"},
	{"remove", "delete", "erase"},
	{"broken", "defect", "faulty", "damaged", "malfunction"},
	{"repair", "fix"},
	{"device", "product", "item"},
	{"battery", "batteries", "power"},
	{"warranty", "guarantee"},
	{"support", "help", "contact"},
	{"maximum", "max", "limit", "most"},

	// Chinese.
	{"退款", "退钱", "返还", "退回"},
	{"费用", "价格", "收费", "付钱", "另付", "费"},
	{"运费", "邮费", "包邮"},
	{"配送", "发货", "寄送", "送货", "快递", "寄到", "寄出", "发出"},
	{"取消", "撤销", "撤回"},
	{"修改", "更改", "更换", "改为"},
	{"维修", "修好", "修理", "保修"},
	{"过期", "有效", "失效", "到期", "清零"},
	{"账号", "账户", "帐号", "帐户"},
	{"登录", "登陆"},
	{"删除", "注销"},
	{"安装", "装好", "上门"},
	{"购买", "买的", "下单", "采购"},
	{"折扣", "优惠", "打折"},
	{"发票", "开票"},
	{"电池", "电量", "充电"},
}

// synonymsOf maps a term to the other terms of its groups.
var synonymsOf = func() map[string][]string {
	m := map[string][]string{}
	for _, g := range synonymGroups {
		terms := make([]string, 0, len(g))
		for _, w := range g {
			if strings.ContainsRune(w, ' ') {
				continue // phrases are documentation for now: terms are single words
			}
			if t := lexiconTerm(w); t != "" {
				terms = append(terms, t)
			}
		}
		for _, a := range terms {
			for _, b := range terms {
				if a != b && !containsString(m[a], b) {
					m[a] = append(m[a], b)
				}
			}
		}
	}
	return m
}()

// lexiconTerm turns a lexicon word into the term form questions and
// sentences are matched in.
func lexiconTerm(w string) string {
	var t string
	eachTerm(w, func(term string, _ float64) {
		if t == "" || len([]rune(term)) > len([]rune(t)) {
			t = term // a Han word gives its unigrams and its bigram: keep the bigram
		}
	})
	return t
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
