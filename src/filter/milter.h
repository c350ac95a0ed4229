/*
 * milter.h - the MTA side of the Sendmail milter protocol, version 6, so
 * that Debian's content filters (clamav-milter, Rspamd's milter mode,
 * opendkim, ...) can judge the mail Correio receives.
 *
 * Two layers:
 *  - the codec (milter-proto.c): packets are a 4-byte big-endian length,
 *    a command byte and its data. Encoders for every command the MTA
 *    sends; an incremental, bounded reader of the milter's packets; a
 *    parser that validates each reply; the header fields of a message as
 *    the milter sees them; and the application of the header changes a
 *    milter asked for. Pure functions, unit-tested and fuzzed.
 *  - the client (milter.c): one check of one message runs it through the
 *    configured milters in order, each over its own connection, on the
 *    libevent loop (it never blocks). The first milter whose verdict is
 *    not "accept" decides; header changes of the milters that accepted
 *    before it are kept.
 *
 * The whole conversation happens once the message is complete (Correio
 * calls it at the end of DATA): CONNECT, HELO, MAIL and RCPT are replayed
 * then, so a refusal at any stage refuses the message (for every
 * recipient: they were accepted already).
 *
 * There is no RFC; the protocol is Sendmail's libmilter (mfdef.h, the
 * "milter protocol" notes) as implemented by Sendmail and Postfix.
 *
 * SECURITY: the milter is a separate program reached over a socket and is
 * not trusted with memory: every packet is bounded (MILTER_PACKET_MAX)
 * before its data arrives, every reply is validated (reply codes and
 * their text, header names and values: no line break that is not a
 * fold, so a milter cannot inject a header or end the header block),
 * and at most MILTER_MODS_MAX changes are kept. Modifications that were
 * not negotiated are refused (ignored and counted), never applied. A
 * milter that breaks the protocol, stalls or is down is a failure that
 * [milter] on_failure turns into accept or tempfail. Text from the
 * milter is escaped before it is logged.
 */
#ifndef FILTER_MILTER_H
#define FILTER_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct buf;
struct config;
struct event_base;

/* ---- protocol constants (libmilter's mfdef.h) ---- */

#define MILTER_VERSION 6		/* SMFI_V6_PROT */
#define MILTER_VERSION_MIN 2		/* the oldest a milter may answer */

/* Commands, MTA to milter (SMFIC_*). */
#define MILTER_CMD_ABORT	'A'
#define MILTER_CMD_BODY		'B'
#define MILTER_CMD_CONNECT	'C'
#define MILTER_CMD_MACRO	'D'
#define MILTER_CMD_EOB		'E'
#define MILTER_CMD_HELO		'H'
#define MILTER_CMD_HEADER	'L'
#define MILTER_CMD_MAIL		'M'
#define MILTER_CMD_EOH		'N'
#define MILTER_CMD_OPTNEG	'O'
#define MILTER_CMD_QUIT		'Q'
#define MILTER_CMD_RCPT		'R'
#define MILTER_CMD_DATA		'T'

/* Replies, milter to MTA (SMFIR_*). */
#define MILTER_REP_ADDRCPT	'+'
#define MILTER_REP_DELRCPT	'-'
#define MILTER_REP_ADDRCPT_PAR	'2'
#define MILTER_REP_SHUTDOWN	'4'
#define MILTER_REP_ACCEPT	'a'
#define MILTER_REP_REPLBODY	'b'
#define MILTER_REP_CONTINUE	'c'
#define MILTER_REP_DISCARD	'd'
#define MILTER_REP_CHGFROM	'e'
#define MILTER_REP_CONN_FAIL	'f'
#define MILTER_REP_ADDHEADER	'h'
#define MILTER_REP_INSHEADER	'i'
#define MILTER_REP_SETSYMLIST	'l'
#define MILTER_REP_CHGHEADER	'm'
#define MILTER_REP_PROGRESS	'p'
#define MILTER_REP_QUARANTINE	'q'
#define MILTER_REP_REJECT	'r'
#define MILTER_REP_SKIP		's'
#define MILTER_REP_TEMPFAIL	't'
#define MILTER_REP_REPLYCODE	'y'
#define MILTER_REP_OPTNEG	'O'

/* Actions a milter may take (SMFIF_*). */
#define MILTER_ACT_ADDHDRS	0x001
#define MILTER_ACT_CHGBODY	0x002
#define MILTER_ACT_ADDRCPT	0x004
#define MILTER_ACT_DELRCPT	0x008
#define MILTER_ACT_CHGHDRS	0x010
#define MILTER_ACT_QUARANTINE	0x020
#define MILTER_ACT_CHGFROM	0x040
#define MILTER_ACT_ADDRCPT_PAR	0x080
#define MILTER_ACT_SETSYMLIST	0x100
/* What Correio offers: header changes and quarantine. Body, envelope
 * and macro-list changes are refused in the negotiation. */
#define MILTER_ACTIONS_OFFERED \
    (MILTER_ACT_ADDHDRS | MILTER_ACT_CHGHDRS | MILTER_ACT_QUARANTINE)

/* Protocol steps (SMFIP_*): the milter asks not to get a step (NO*) or
 * not to answer it (NR_*). */
#define MILTER_P_NOCONNECT	0x00000001
#define MILTER_P_NOHELO		0x00000002
#define MILTER_P_NOMAIL		0x00000004
#define MILTER_P_NORCPT		0x00000008
#define MILTER_P_NOBODY		0x00000010
#define MILTER_P_NOHDRS		0x00000020
#define MILTER_P_NOEOH		0x00000040
#define MILTER_P_NR_HDR		0x00000080
#define MILTER_P_NOUNKNOWN	0x00000100
#define MILTER_P_NODATA		0x00000200
#define MILTER_P_SKIP		0x00000400
#define MILTER_P_RCPT_REJ	0x00000800
#define MILTER_P_NR_CONN	0x00001000
#define MILTER_P_NR_HELO	0x00002000
#define MILTER_P_NR_MAIL	0x00004000
#define MILTER_P_NR_RCPT	0x00008000
#define MILTER_P_NR_DATA	0x00010000
#define MILTER_P_NR_UNKN	0x00020000
#define MILTER_P_NR_EOH		0x00040000
#define MILTER_P_NR_BODY	0x00080000
#define MILTER_P_HDR_LEADSPC	0x00100000
/* Offered: every step may be skipped or left unanswered, SKIP and the
 * leading space of header values. Not offered: rejected recipients
 * (there are none: the milters run after RCPT), bigger packets. */
#define MILTER_PROTOCOL_OFFERED \
    (MILTER_P_NOCONNECT | MILTER_P_NOHELO | MILTER_P_NOMAIL | \
    MILTER_P_NORCPT | MILTER_P_NOBODY | MILTER_P_NOHDRS | MILTER_P_NOEOH | \
    MILTER_P_NR_HDR | MILTER_P_NOUNKNOWN | MILTER_P_NODATA | MILTER_P_SKIP | \
    MILTER_P_NR_CONN | MILTER_P_NR_HELO | MILTER_P_NR_MAIL | \
    MILTER_P_NR_RCPT | MILTER_P_NR_DATA | MILTER_P_NR_UNKN | \
    MILTER_P_NR_EOH | MILTER_P_NR_BODY | MILTER_P_HDR_LEADSPC)

/* ---- limits ---- */

/* A body chunk (MILTER_CHUNK_SIZE in libmilter). */
#define MILTER_CHUNK_MAX 65535
/* A packet from the milter: command byte and data. Without the
 * SMFIP_MDS_* sizes (not offered) libmilter sends at most a chunk. */
#define MILTER_PACKET_MAX (MILTER_CHUNK_MAX + 1)
/* A replycode's text, all its lines, and one line of it (RFC 5321
 * 4.5.3.1.5: 512 with the CRLF). */
#define MILTER_REPLY_MAX 2048
#define MILTER_REPLY_LINE_MAX 510
/* A quarantine reason. */
#define MILTER_QUARANTINE_MAX 512
/* A header field name and value a milter adds or changes. */
#define MILTER_HEADER_NAME_MAX 128
#define MILTER_HEADER_VALUE_MAX 16384
/* Header changes kept for one message, over all milters. */
#define MILTER_MODS_MAX 64
/* Milters in a row ([milter] servers). */
#define MILTER_SERVERS_MAX 8
/* Why a check failed, and a milter's name, for logs and the result. */
#define MILTER_ERROR_MAX 256
#define MILTER_NAME_MAX 128

/* ---- codec: the reader ---- */

/* One packet read: the command and its data (data_len may be 0). */
struct milter_packet {
	unsigned char cmd;
	const unsigned char *data;
	size_t data_len;
};

enum milter_read_status {
	MILTER_READ_MORE,	/* every byte given was used; need more */
	MILTER_READ_PACKET,	/* *pkt_r holds a packet */
	MILTER_READ_EMPTY,	/* a length of 0: no command byte */
	MILTER_READ_TOO_BIG,	/* the length is over the reader's max */
};

struct milter_reader {
	size_t max;		/* of a packet: command byte and data */
	unsigned char head[4];
	size_t head_len;
	uint32_t len;		/* of the packet being read, once known */
	unsigned char *data;	/* len bytes as they come; max allocated */
	size_t have;
	bool done;		/* the last call returned a packet */
};

/* Sets up r for packets of at most max bytes (command and data; at
 * least 1, at most MILTER_PACKET_MAX is what the client uses). */
void
milter_reader_init(struct milter_reader *r, size_t max);

void
milter_reader_free(struct milter_reader *r);

/*
 * Feeds len bytes of in. Uses bytes up to the end of one packet at most
 * and sets *used_r to how many. Returns MILTER_READ_PACKET with *pkt_r
 * (its data valid until the next call), MILTER_READ_MORE when all of in
 * was used and the packet is not complete, or an error (the length is
 * checked as soon as its 4 bytes are in, before any data is kept);
 * after an error the reader must not be fed again. Feeding one byte at
 * a time gives the same packets as feeding all at once.
 */
enum milter_read_status
milter_reader_feed(struct milter_reader *r, const void *in, size_t len,
    size_t *used_r, struct milter_packet *pkt_r);

/* ---- codec: replies ---- */

enum milter_reply_type {
	MILTER_REPLY_OPTNEG,
	MILTER_REPLY_ACCEPT,
	MILTER_REPLY_CONTINUE,
	MILTER_REPLY_REJECT,
	MILTER_REPLY_TEMPFAIL,
	MILTER_REPLY_DISCARD,
	MILTER_REPLY_REPLYCODE,	/* code, text: the SMTP reply */
	MILTER_REPLY_SHUTDOWN,	/* '4' and 'f': a temporary failure */
	MILTER_REPLY_PROGRESS,
	MILTER_REPLY_SKIP,
	MILTER_REPLY_QUARANTINE,	/* text: the reason */
	MILTER_REPLY_ADDHEADER,	/* name, value */
	MILTER_REPLY_INSHEADER,	/* index, name, value */
	MILTER_REPLY_CHGHEADER,	/* index, name, value ("" deletes) */
	MILTER_REPLY_OTHER_MOD,	/* envelope, body, macro lists: refused */
};

struct milter_reply {
	enum milter_reply_type type;
	unsigned char cmd;
	/* OPTNEG */
	uint32_t version, actions, protocol;
	/* REPLYCODE: code 400..599; text is the whole reply as it goes to
	 * the SMTP client, lines separated by CRLF, no final CRLF.
	 * QUARANTINE: the reason. NUL-terminated, in the packet. */
	int code;
	const char *text;
	size_t text_len;
	/* header changes, NUL-terminated, in the packet (the value as the
	 * milter wrote it: folds may be LF or CRLF) */
	uint32_t index;
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/*
 * Parses and validates the packet p from a milter: its command must be
 * a known reply, its data what that reply carries (three 32-bit words
 * for OPTNEG, possibly followed by macro lists that are ignored;
 * nothing for the simple replies; NUL-terminated strings for the
 * others), a replycode a valid SMTP reply (4xx or 5xx, every line with
 * the same code, printable text, an enhanced status code of the same
 * class if there is one), a header name printable ASCII without ':' and
 * a value without control characters, whose every line break is
 * followed by white space. Pointers in *r point into p's data. Returns
 * 0, or -1 with *error_r set to a static message.
 */
int
milter_reply_parse(const struct milter_packet *p, struct milter_reply *r,
    const char **error_r);

/*
 * The outcome of an OPTNEG reply r: the milter's version must be from
 * MILTER_VERSION_MIN to MILTER_VERSION; the actions and steps it asks
 * for are masked with what was offered (MILTER_ACTIONS_OFFERED,
 * MILTER_PROTOCOL_OFFERED), as Postfix does: a milter may ask for more
 * (Rspamd asks for every action whatever it is offered), and is then
 * refused what it was not offered. Returns 0 with *actions_r and
 * *protocol_r, or -1 with *error_r set to a static message.
 */
int
milter_negotiate(const struct milter_reply *r, uint32_t *actions_r,
    uint32_t *protocol_r, const char **error_r);

/* A name for a reply command byte, for logs ("accept", "addheader",
 * ...; "unknown"). */
const char *
milter_reply_name(unsigned char cmd);

/* ---- codec: encoders (each appends one packet to out) ---- */

/* Appends a packet with command cmd and len bytes of data. Returns 0, or
 * -1 if out would pass its max or len is over MILTER_PACKET_MAX - 1. */
int
milter_put_packet(struct buf *out, unsigned char cmd, const void *data,
    size_t len);

/* OPTNEG: version, actions, protocol. */
int
milter_put_optneg(struct buf *out, uint32_t version, uint32_t actions,
    uint32_t protocol);

/*
 * MACRO for the command stage (MILTER_CMD_CONNECT, _MAIL, ...): n pairs
 * of names and values in nv (name, value, name, value, ...); a pair
 * whose value is NULL is left out. Names are "j", "{daemon_name}", ...
 */
int
milter_put_macros(struct buf *out, unsigned char stage,
    const char *const *nv, size_t n);

/* CONNECT: the client's name ("[ip]" when unknown), and its address
 * (AF_INET, AF_INET6 with the port; AF_UNIX; NULL: family unknown). */
int
milter_put_connect(struct buf *out, const char *hostname,
    const struct sockaddr *sa);

/* HELO, MAIL ("<addr>"; "" is the null sender) and RCPT ("<addr>"). */
int
milter_put_helo(struct buf *out, const char *helo);
int
milter_put_mail(struct buf *out, const char *addr);
int
milter_put_rcpt(struct buf *out, const char *addr);

/* HEADER: name and value (of name_len and value_len bytes), each sent
 * NUL-terminated. */
int
milter_put_header(struct buf *out, const char *name, size_t name_len,
    const char *value, size_t value_len);

/* A command without data: DATA, EOH, EOB, ABORT, QUIT. */
int
milter_put_simple(struct buf *out, unsigned char cmd);

/* The 5 bytes that start a BODY packet of len (1..MILTER_CHUNK_MAX)
 * bytes; the chunk follows as it is. */
void
milter_body_head(unsigned char head[5], size_t len);

/* ---- codec: the message's header ---- */

/* One header field of a message, as the milter sees it. */
struct milter_field {
	const char *name;
	size_t name_len;
	const char *value;	/* after the ':' (with its white space),
				 * without the final CRLF */
	size_t value_len;
	size_t start, end;	/* offsets of the whole field, end after its
				 * CRLF */
};

/*
 * Reads the next header field of msg (len bytes, lines ending in CRLF)
 * from *pos (0 at first). Returns 1 with *f and *pos after it, or 0 at
 * the end of the header, with *pos at the start of the body: after the
 * empty line, or at a line that is not a field (no name, no ':') or the
 * end of msg, which then starts the body.
 */
int
milter_field_next(const char *msg, size_t len, size_t *pos,
    struct milter_field *f);

/*
 * The value of f as HEADER sends it, into out: CRLF of folds become LF
 * (libmilter's convention), and with leadspc false the white space
 * after the ':' is left out. Returns 0 or -1 past out's max.
 */
int
milter_field_value(const struct milter_field *f, bool leadspc,
    struct buf *out);

/* ---- header changes ---- */

enum milter_mod_type {
	MILTER_MOD_ADD,		/* at the end of the header */
	MILTER_MOD_INSERT,	/* before field index (0: at the top) */
	MILTER_MOD_CHANGE,	/* the index-th (from 1) field named name;
				 * an empty value deletes it */
};

struct milter_mod {
	enum milter_mod_type type;
	uint32_t index;
	char *name;		/* NUL-terminated, validated */
	char *value;		/* as it goes after "name:": folds in CRLF,
				 * the leading space included; "" for a
				 * deletion */
};

/* The name of a mod type: "add", "insert", "change" or "delete". */
const char *
milter_mod_name(const struct milter_mod *m);

/*
 * Makes a mod from a parsed header change reply (ADDHEADER, INSHEADER,
 * CHGHEADER): copies name and value, the value's folds made CRLF and,
 * when leadspc is false (the milter did not negotiate
 * SMFIP_HDR_LEADSPC), a space put in front of a non-empty value. Free
 * it with milter_mod_clear().
 */
void
milter_mod_from_reply(struct milter_mod *m, const struct milter_reply *r,
    bool leadspc);

void
milter_mod_clear(struct milter_mod *m);

/*
 * Appends to out msg (len bytes, CRLF lines) with the header changes
 * mods applied in order, as Sendmail does: ADD appends a field, INSERT
 * puts one before the index-th field (counting from 0, at the end if
 * there are fewer), CHANGE replaces the index-th field of that name
 * (any case), deletes it for an empty value, and adds it when there
 * are fewer fields of the name. The body is copied as it is. Returns 0,
 * or -1 if out would pass its max (out is then partly written).
 */
int
milter_mods_apply(const struct milter_mod *mods, size_t n, const char *msg,
    size_t len, struct buf *out);

/* ---- the client ---- */

struct milter_server {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char name[MILTER_NAME_MAX];	/* "inet:127.0.0.1:11332", for logs */
};

struct milter_config {
	struct milter_server servers[MILTER_SERVERS_MAX];
	size_t n_servers;		/* 0: no milter, every check accepts */
	unsigned connect_timeout;	/* seconds to connect */
	unsigned timeout;		/* seconds for each reply */
	unsigned message_timeout;	/* seconds for the whole check */
	bool fail_tempfail;		/* on_failure=tempfail (else accept) */
	const char *hostname;		/* the "j" macro; must outlive */
};

/* Fills mc from the [milter] section of cfg, which must outlive it. */
void
milter_config_init(struct milter_config *mc, const struct config *cfg);

/* Whether [milter] is on for the listener: "smtp" (port 25) when
 * submission is false, "submission" (587 and 465) when true. */
bool
milter_config_wanted(const struct config *cfg, bool submission);

struct milter_request {
	const struct sockaddr *client_addr;	/* NULL: unknown */
	const char *client_name;	/* verified reverse name, or NULL */
	const char *helo;		/* NULL: none was given */
	const char *mail_from;		/* without <>; "" for the null sender */
	/* Without <>; at least one: libmilter's milters wait for a RCPT
	 * between MAIL and the header, and never answer otherwise. */
	const char *const *rcpts;
	size_t n_rcpts;
	/* The message as received: header and body, CRLF lines. It is
	 * not copied: it must stay valid until the callback runs or the
	 * check is cancelled. */
	const char *msg;
	size_t len;
	const char *queue_id;		/* the "i" macro */
	const char *auth_user;		/* "{auth_authen}", or NULL */
	const char *daemon_name;	/* "{daemon_name}": "smtp", ... */
};

enum milter_verdict {
	MILTER_VERDICT_ACCEPT,	/* go on (with the header changes) */
	MILTER_VERDICT_REJECT,	/* answer reply (5xx) */
	MILTER_VERDICT_TEMPFAIL,	/* answer reply (4xx) */
	MILTER_VERDICT_DISCARD,	/* answer 250 and drop the message */
	MILTER_VERDICT_QUARANTINE,	/* accept, and hold it (quarantine) */
};

/* "accept", "reject", "tempfail", "discard", "quarantine". */
const char *
milter_verdict_name(enum milter_verdict v);

/* The replies used when a milter rejects or fails without its own. */
#define MILTER_REPLY_REJECT_DEFAULT "550 5.7.1 Command rejected"
#define MILTER_REPLY_TEMPFAIL_DEFAULT \
    "451 4.7.1 Service unavailable - try again later"

struct milter_result {
	enum milter_verdict verdict;
	/* REJECT, TEMPFAIL: the SMTP reply, lines separated by CRLF, no
	 * final CRLF (a milter's own, or a default above). */
	char reply[MILTER_REPLY_MAX + 1];
	/* QUARANTINE: the milter's reason, printable ASCII. */
	char quarantine[MILTER_QUARANTINE_MAX + 1];
	/* Header changes of the milters that accepted, in order (apply
	 * them with milter_mods_apply()); for every verdict. */
	const struct milter_mod *mods;
	size_t n_mods;
	unsigned ignored;	/* modifications refused (not negotiated) */
	/* The milter whose verdict this is ("" when all accepted). */
	char milter[MILTER_NAME_MAX];
	/* A milter failed (down, timed out, broke the protocol): why, and
	 * which. The verdict is then what on_failure says (TEMPFAIL with
	 * MILTER_REPLY_TEMPFAIL_DEFAULT, or the other milters' verdict for
	 * accept). */
	bool failed;
	char error[MILTER_ERROR_MAX];
};

struct milter_check;

/* Gets the result, valid until the callback returns; the check is freed
 * when it returns (do not cancel it from the callback). */
typedef void milter_callback(void *ctx, const struct milter_result *result);

/*
 * Runs req through the milters of cfg, in order. cb is called exactly
 * once, from the loop, never from inside this function, unless the
 * check is cancelled. cfg and req->msg must stay valid until then; the
 * other strings of req are copied. With no milter configured, the
 * result is accept. Returns the check (never NULL).
 */
struct milter_check *
milter_check_start(struct event_base *base, const struct milter_config *cfg,
    const struct milter_request *req, milter_callback *cb, void *ctx);

/* Cancels a check whose callback has not run (closing its connection);
 * sets *checkp to NULL. NULL is fine. */
void
milter_check_cancel(struct milter_check **checkp);

#endif
