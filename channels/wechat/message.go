package wechat

import (
	"encoding/xml"
	"strconv"
)

// Message is a message or event pushed by WeChat (the fields Quarry
// reads). In safe mode only ToUserName and Encrypt are set on the outer
// envelope; the decrypted Encrypt is a Message again.
type Message struct {
	XMLName      xml.Name `xml:"xml"`
	ToUserName   string   `xml:"ToUserName"`   // the official account's id (gh_...)
	FromUserName string   `xml:"FromUserName"` // the follower's OpenID
	CreateTime   int64    `xml:"CreateTime"`
	MsgType      string   `xml:"MsgType"` // text, image, voice, video, shortvideo, location, link, event
	Content      string   `xml:"Content"`
	MsgID        string   `xml:"MsgId"`
	MediaID      string   `xml:"MediaId"`
	PicURL       string   `xml:"PicUrl"`
	Format       string   `xml:"Format"`
	Recognition  string   `xml:"Recognition"` // speech recognition of a voice message, when turned on
	Event        string   `xml:"Event"`       // subscribe, unsubscribe, CLICK...
	EventKey     string   `xml:"EventKey"`
	Encrypt      string   `xml:"Encrypt"`
}

// cdata marshals as <![CDATA[...]]>.
type cdata struct {
	Value string `xml:",cdata"`
}

// textReply is a passive reply with a text message.
type textReply struct {
	XMLName      xml.Name `xml:"xml"`
	ToUserName   cdata    `xml:"ToUserName"`
	FromUserName cdata    `xml:"FromUserName"`
	CreateTime   int64    `xml:"CreateTime"`
	MsgType      cdata    `xml:"MsgType"`
	Content      cdata    `xml:"Content"`
}

// encryptedReply is the safe-mode envelope of a passive reply.
type encryptedReply struct {
	XMLName      xml.Name `xml:"xml"`
	Encrypt      cdata    `xml:"Encrypt"`
	MsgSignature cdata    `xml:"MsgSignature"`
	TimeStamp    string   `xml:"TimeStamp"`
	Nonce        cdata    `xml:"Nonce"`
}

// dedupKey identifies a message across WeChat's retries: its MsgId, or
// for events (which have none) the sender and creation time.
func (m *Message) dedupKey() string {
	if m.MsgID != "" {
		return "msg:" + m.MsgID
	}
	return "ev:" + m.FromUserName + ":" + strconv.FormatInt(m.CreateTime, 10) + ":" + m.MsgType + ":" + m.Event
}
