/*
 * imap-mailbox.c - IMAP commands on mailboxes: SELECT, EXAMINE, CREATE,
 * DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS, NAMESPACE.
 *
 * RFC 9051 6.3, RFC 3501 6.3; RFC 5258 LIST-EXTENDED, RFC 5819
 * LIST-STATUS, RFC 6154 SPECIAL-USE, RFC 3348 CHILDREN, RFC 2342
 * NAMESPACE, RFC 7162 CONDSTORE/QRESYNC (SELECT parameters), RFC 8438
 * STATUS=SIZE.
 *
 * Hierarchy: "/" separates levels; CREATE makes missing superiors, so
 * every level of a name exists as a mailbox and LIST needs no \Noselect
 * placeholders.
 *
 * SECURITY: names and patterns are peer data. Names are checked by the
 * store; patterns are matched with a bounded backtracking matcher
 * (IMAP_PATTERN_MAX) in time linear in pattern x name.
 */
#include "imap/imap-private.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/pool.h"
#include "core/xalloc.h"
#include "store/store.h"

#define IMAP_PATTERN_MAX 1024		/* bytes of a LIST pattern */
#define IMAP_PATTERN_WILDCARDS 16	/* "*" and "%" in one pattern */
#define IMAP_LIST_PATTERNS_MAX 32	/* patterns in one LIST */

void
imap_view_free(struct imap_view **viewp)
{
	struct imap_view *v = *viewp;

	if (v == NULL)
		return;
	free(v->name);
	free(v->uids);
	free(v->expunged);
	free(v->keywords);
	free(v);
	*viewp = NULL;
}

/* --- SELECT / EXAMINE --- */

/* Distinct keywords a SELECT lists in FLAGS, at most: a mailbox can hold
 * many more (50 per message), which the FETCH FLAGS of each message still
 * show; PERMANENTFLAGS has \* for new ones. */
#define IMAP_SELECT_KEYWORDS_MAX 1000

struct imap_select_ctx {
	struct imap_view *v;
	size_t first_unseen;
	struct buf keywords;	/* space-separated */
	/* A hash set over keywords: offset + 1 of each word in it, by its
	 * case-insensitive hash (open addressing; 0 is empty). */
	size_t *slots;
	size_t n_slots, n_words;
};

static uint32_t
imap_keyword_hash(const char *kw, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (uint32_t)(unsigned char)tolower((unsigned char)kw[i]);
		h *= 16777619u;
	}
	return h;
}

static void
imap_select_keyword_add(struct imap_select_ctx *sc, const char *kw,
    size_t len)
{
	struct buf *list = &sc->keywords;
	size_t i;

	if (sc->n_words >= IMAP_SELECT_KEYWORDS_MAX)
		return;
	if (sc->slots == NULL) {
		/* twice the most words: never more than half full */
		sc->n_slots = 2 * IMAP_SELECT_KEYWORDS_MAX;
		sc->slots = xcalloc(sc->n_slots, sizeof(*sc->slots));
	}
	i = imap_keyword_hash(kw, len) % sc->n_slots;
	for (; sc->slots[i] != 0; i = (i + 1) % sc->n_slots) {
		const char *w = list->data + sc->slots[i] - 1;

		if (strcspn(w, " ") == len && strncasecmp(w, kw, len) == 0)
			return;
	}
	if (list->len > 0)
		(void)buf_puts(list, " ");
	sc->slots[i] = list->len + 1;
	(void)buf_append(list, kw, len);
	sc->n_words++;
}

static void
imap_select_message(void *ctx, const struct store_message_flags *m)
{
	struct imap_select_ctx *sc = ctx;
	struct imap_view *v = sc->v;
	const char *p = m->keywords;

	if (v->n == v->cap) {
		v->cap = v->cap == 0 ? 64 : v->cap * 2;
		v->uids = xrealloc(v->uids, v->cap * sizeof(*v->uids));
	}
	v->uids[v->n++] = m->uid;
	if (sc->first_unseen == 0 && (m->flags & STORE_FLAG_SEEN) == 0)
		sc->first_unseen = v->n;
	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		imap_select_keyword_add(sc, p, n);
		p += n;
		p += strspn(p, " ");
	}
}

/* QRESYNC at SELECT (RFC 7162 3.2.5): what changed since modseq. */
struct imap_qresync_ctx {
	struct imap_conn *c;
	struct buf out;
	struct buf vanished;
};

static void
imap_qresync_message(void *ctx, const struct store_message_flags *m)
{
	struct imap_qresync_ctx *qc = ctx;
	size_t seq = imap_view_seq(qc->c->view, m->uid);

	if (seq == 0)
		return;
	buf_printf(&qc->out, "* %zu FETCH (UID %u FLAGS ", seq, m->uid);
	imap_flags_write(&qc->out, m->flags, m->keywords);
	buf_printf(&qc->out, " MODSEQ (%llu))\r\n",
	    (unsigned long long)m->modseq);
}

static void
imap_qresync_expunged(void *ctx, uint32_t uid, uint64_t modseq)
{
	struct imap_qresync_ctx *qc = ctx;

	if (qc->vanished.len > 0)
		buf_puts(&qc->vanished, ",");
	buf_printf(&qc->vanished, "%u", uid);
}

/* Parses "(CONDSTORE)" or "(QRESYNC (uidvalidity modseq ...))". */
static int
imap_select_params(struct imap_conn *c, const struct imap_arg *arg,
    bool *condstore_r, uint32_t *q_uidvalidity_r, uint64_t *q_modseq_r)
{
	const struct imap_arg *list, *q;
	size_t n, nq;

	if (!imap_arg_list(arg, &list, &n)) {
		imap_bad(c, "Invalid SELECT parameters");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (imap_arg_atom_eq(&list[i], "CONDSTORE")) {
			*condstore_r = true;
		} else if (imap_arg_atom_eq(&list[i], "QRESYNC") && i + 1 < n &&
		    imap_arg_list(&list[i + 1], &q, &nq) && nq >= 2 &&
		    q[0].type == IMAP_ARG_ATOM && q[1].type == IMAP_ARG_ATOM &&
		    imap_number_parse(q[0].str, q[0].len,
		    q_uidvalidity_r) == 0 &&
		    imap_number64_parse(q[1].str, q[1].len, q_modseq_r) == 0) {
			if (!c->qresync) {
				imap_bad(c, "ENABLE QRESYNC first");
				return -1;
			}
			i++;
		} else {
			imap_bad(c, "Unknown SELECT parameter");
			return -1;
		}
	}
	return 0;
}

void
imap_cmd_select(struct imap_conn *c, const struct imap_command *cmd)
{
	struct imap_select_ctx sc = { 0 };
	struct store_mailbox_state mb;
	struct imap_view *v;
	struct buf name, out;
	const char *error;
	bool examine = strcmp(cmd->name, "EXAMINE") == 0, condstore = false;
	uint32_t q_uidvalidity = 0;
	uint64_t q_modseq = 0;
	int rc;

	if (cmd->n_args < 1 || cmd->n_args > 2) {
		imap_bad(c, "%s needs a mailbox name", cmd->name);
		return;
	}
	buf_init(&name, STORE_MAILBOX_NAME_MAX);
	if (imap_mailbox_arg(c, &cmd->args[0], &name) < 0) {
		buf_release(&name);
		return;
	}
	if (cmd->n_args == 2 && imap_select_params(c, &cmd->args[1],
	    &condstore, &q_uidvalidity, &q_modseq) < 0) {
		buf_release(&name);
		return;
	}
	/* RFC 9051 6.3.2: a failed SELECT leaves no mailbox selected too */
	if (c->view != NULL) {
		imap_view_free(&c->view);
		c->state = IMAP_ST_AUTH;
		/* RFC 7162 3.2.11 */
		imap_send(c, "* OK [CLOSED] Previous mailbox closed");
	}
	rc = store_mailbox_find(c->server->store, c->user_id, name.data, &mb,
	    &error);
	if (rc != 0) {
		buf_release(&name);
		if (rc == STORE_E_NOTFOUND)
			imap_reply(c, "NO [NONEXISTENT] No such mailbox");
		else
			imap_reply(c, "NO [SERVERBUG] %s failed", cmd->name);
		return;
	}
	if (condstore)
		c->condstore = true;
	v = xcalloc(1, sizeof(*v));
	v->id = mb.id;
	v->name = xstrdup(mb.name);
	v->readonly = examine;
	buf_release(&name);
	sc.v = v;
	buf_init(&sc.keywords, SIZE_MAX);
	rc = store_mailbox_changes(c->server->store, v->id, 0, &mb,
	    imap_select_message, NULL, &sc, &error);
	if (rc != 0) {
		buf_release(&sc.keywords);
		free(sc.slots);
		imap_view_free(&v);
		imap_reply(c, "NO [SERVERBUG] %s failed", cmd->name);
		return;
	}
	/* Every session keeps its view for as long as it stays selected:
	 * no spare room (it doubles when mail comes). */
	if (v->cap > v->n && v->n > 0) {
		v->uids = xrealloc(v->uids, v->n * sizeof(*v->uids));
		v->cap = v->n;
	}
	v->uidvalidity = mb.uidvalidity;
	v->uidnext = mb.uidnext;
	v->highestmodseq = mb.highestmodseq;
	free(sc.slots);
	v->keywords = xstrdup(sc.keywords.data != NULL ? sc.keywords.data :
	    "");
	buf_release(&sc.keywords);
	c->view = v;
	c->state = IMAP_ST_SELECTED;

	buf_init(&out, SIZE_MAX);
	buf_puts(&out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft");
	if (v->keywords[0] != '\0')
		buf_printf(&out, " %s", v->keywords);
	buf_puts(&out, ")\r\n");
	if (examine) {
		buf_puts(&out, "* OK [PERMANENTFLAGS ()] Read-only\r\n");
	} else {
		buf_puts(&out, "* OK [PERMANENTFLAGS (\\Answered \\Flagged "
		    "\\Deleted \\Seen \\Draft");
		if (v->keywords[0] != '\0')
			buf_printf(&out, " %s", v->keywords);
		buf_puts(&out, " \\*)] Flags permitted\r\n");
	}
	buf_printf(&out, "* %zu EXISTS\r\n", v->n);
	if (!c->rev2) {
		/* IMAP4rev1 only; Correio does not track \Recent */
		buf_puts(&out, "* 0 RECENT\r\n");
		if (sc.first_unseen > 0)
			buf_printf(&out, "* OK [UNSEEN %zu] First unseen\r\n",
			    sc.first_unseen);
	}
	buf_printf(&out, "* OK [UIDVALIDITY %u] UIDs valid\r\n",
	    v->uidvalidity);
	buf_printf(&out, "* OK [UIDNEXT %u] Predicted next UID\r\n",
	    v->uidnext);
	buf_printf(&out, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
	    (unsigned long long)v->highestmodseq);
	if (c->rev2) {
		/* RFC 9051 6.3.2: the mailbox's LIST response */
		buf_puts(&out, "* LIST () \"/\" ");
		imap_mailbox_write(c, &out, v->name);
		buf_puts(&out, "\r\n");
	}
	imap_send_buf(c, &out);
	if (q_modseq > 0 && q_uidvalidity == v->uidvalidity &&
	    q_modseq < v->highestmodseq) {
		struct imap_qresync_ctx qc = { .c = c };

		buf_init(&qc.out, SIZE_MAX);
		buf_init(&qc.vanished, SIZE_MAX);
		rc = store_mailbox_changes(c->server->store, v->id, q_modseq,
		    &mb, imap_qresync_message, imap_qresync_expunged, &qc,
		    &error);
		if (rc == 0) {
			if (qc.vanished.len > 0)
				buf_printf(&out, "* VANISHED (EARLIER) %s\r\n",
				    qc.vanished.data);
			imap_send_buf(c, &out);
			imap_send_buf(c, &qc.out);
		}
		buf_release(&qc.out);
		buf_release(&qc.vanished);
	}
	buf_release(&out);
	log_info("conn=%s imap %s mailbox_id=%lld messages=%zu", c->id,
	    examine ? "examine" : "select", (long long)v->id, v->n);
	imap_reply(c, "OK [%s] %s completed", examine ? "READ-ONLY" :
	    "READ-WRITE", cmd->name);
}

/* --- writes on mailboxes --- */

enum imap_mbox_op {
	MBOX_CREATE,
	MBOX_DELETE,
	MBOX_RENAME,
	MBOX_SUBSCRIBE,
	MBOX_UNSUBSCRIBE,
};

struct imap_mbox_job {
	struct deliverq_job job;
	enum imap_mbox_op op;
	int64_t user_id;
	char *name, *name2;
	int ret;
	char error[256];
};

static int
imap_mbox_run(struct store *store, struct deliverq_job *job)
{
	struct imap_mbox_job *j = (struct imap_mbox_job *)job;
	const char *error = "";

	switch (j->op) {
	case MBOX_CREATE:
		j->ret = store_mailbox_create(store, j->user_id, j->name, NULL,
		    &error);
		break;
	case MBOX_DELETE:
		j->ret = store_mailbox_delete(store, j->user_id, j->name,
		    &error);
		break;
	case MBOX_RENAME:
		j->ret = store_mailbox_rename(store, j->user_id, j->name,
		    j->name2, &error);
		break;
	case MBOX_SUBSCRIBE:
	case MBOX_UNSUBSCRIBE:
		j->ret = store_subscription_set(store, j->user_id, j->name,
		    j->op == MBOX_SUBSCRIBE, &error);
		break;
	}
	if (j->ret != 0)
		(void)snprintf(j->error, sizeof(j->error), "%s", error);
	return j->ret;
}

static const char *const imap_mbox_op_names[] = {
	[MBOX_CREATE] = "CREATE",
	[MBOX_DELETE] = "DELETE",
	[MBOX_RENAME] = "RENAME",
	[MBOX_SUBSCRIBE] = "SUBSCRIBE",
	[MBOX_UNSUBSCRIBE] = "UNSUBSCRIBE",
};

static void
imap_mbox_done(struct deliverq_job *job)
{
	struct imap_mbox_job *j = (struct imap_mbox_job *)job;
	struct imap_conn *c = imap_write_conn(job);
	const char *what = imap_mbox_op_names[j->op];

	/* The session's own selected mailbox deleted: it is left (as
	 * Dovecot does), rather than found gone by the sync and BYE. */
	if (c != NULL && j->ret == 0 && j->op == MBOX_DELETE &&
	    c->view != NULL && strcmp(c->view->name, j->name) == 0) {
		imap_view_free(&c->view);
		c->state = IMAP_ST_AUTH;
	}
	if (c != NULL) {
		switch (j->ret) {
		case 0:
			imap_reply(c, "OK %s completed", what);
			break;
		case STORE_E_NOTFOUND:
			imap_reply(c, "NO [NONEXISTENT] %s", j->error);
			break;
		case STORE_E_EXISTS:
			imap_reply(c, "NO [ALREADYEXISTS] %s", j->error);
			break;
		case STORE_E_LIMIT:
			imap_reply(c, "NO [LIMIT] %s", j->error);
			break;
		case STORE_E_INVALID:
			imap_reply(c, "NO [CANNOT] %s", j->error);
			break;
		default:
			log_error("conn=%s imap %s error=\"%s\"", c->id, what,
			    j->error);
			imap_reply(c, "NO [SERVERBUG] %s failed", what);
			break;
		}
		if (j->ret == 0 && (j->op == MBOX_DELETE ||
		    j->op == MBOX_RENAME))
			imap_server_notify(c->server, c->user_id);
	}
	free(j->name);
	free(j->name2);
	free(j);
	/* go on with what the client sent meanwhile */
	if (c != NULL)
		imap_resume(c);
}

static void
imap_mbox_submit(struct imap_conn *c, enum imap_mbox_op op,
    const char *name, const char *name2)
{
	struct imap_mbox_job *j = xcalloc(1, sizeof(*j));

	j->op = op;
	j->user_id = c->user_id;
	j->name = xstrdup(name);
	j->name2 = name2 != NULL ? xstrdup(name2) : NULL;
	j->job.run = imap_mbox_run;
	j->job.done = imap_mbox_done;
	imap_write_submit(c, &j->job);
}

void
imap_cmd_create(struct imap_conn *c, const struct imap_command *cmd)
{
	struct buf name;

	/* RFC 6154 5.2 CREATE-SPECIAL-USE is not offered: one argument */
	if (cmd->n_args != 1) {
		imap_bad(c, "CREATE needs a mailbox name");
		return;
	}
	buf_init(&name, STORE_MAILBOX_NAME_MAX + 1);
	if (imap_mailbox_arg(c, &cmd->args[0], &name) < 0) {
		buf_release(&name);
		return;
	}
	/* RFC 9051 6.3.4: a trailing separator says "will have children" */
	if (name.len > 1 && name.data[name.len - 1] == '/')
		name.data[--name.len] = '\0';
	if (strcasecmp(name.data, "INBOX") == 0) {
		buf_release(&name);
		imap_reply(c, "NO [ALREADYEXISTS] INBOX always exists");
		return;
	}
	imap_mbox_submit(c, MBOX_CREATE, name.data, NULL);
	buf_release(&name);
}

void
imap_cmd_delete(struct imap_conn *c, const struct imap_command *cmd)
{
	struct buf name;

	if (cmd->n_args != 1) {
		imap_bad(c, "DELETE needs a mailbox name");
		return;
	}
	buf_init(&name, STORE_MAILBOX_NAME_MAX + 1);
	if (imap_mailbox_arg(c, &cmd->args[0], &name) < 0) {
		buf_release(&name);
		return;
	}
	imap_mbox_submit(c, MBOX_DELETE, name.data, NULL);
	buf_release(&name);
}

void
imap_cmd_rename(struct imap_conn *c, const struct imap_command *cmd)
{
	struct buf from, to;

	if (cmd->n_args != 2) {
		imap_bad(c, "RENAME needs two mailbox names");
		return;
	}
	buf_init(&from, STORE_MAILBOX_NAME_MAX + 1);
	buf_init(&to, STORE_MAILBOX_NAME_MAX + 1);
	if (imap_mailbox_arg(c, &cmd->args[0], &from) == 0 &&
	    imap_mailbox_arg(c, &cmd->args[1], &to) == 0)
		imap_mbox_submit(c, MBOX_RENAME, from.data, to.data);
	buf_release(&from);
	buf_release(&to);
}

void
imap_cmd_subscribe(struct imap_conn *c, const struct imap_command *cmd)
{
	struct buf name;
	bool sub = strcmp(cmd->name, "SUBSCRIBE") == 0;

	if (cmd->n_args != 1) {
		imap_bad(c, "%s needs a mailbox name", cmd->name);
		return;
	}
	buf_init(&name, STORE_MAILBOX_NAME_MAX + 1);
	if (imap_mailbox_arg(c, &cmd->args[0], &name) < 0) {
		buf_release(&name);
		return;
	}
	imap_mbox_submit(c, sub ? MBOX_SUBSCRIBE : MBOX_UNSUBSCRIBE,
	    name.data, NULL);
	buf_release(&name);
}

/* --- LIST --- */

/*
 * Matches name against an IMAP pattern: "*" matches anything, "%"
 * anything but "/" (RFC 9051 6.3.9). Dynamic programming over the name,
 * one row per pattern byte: O(pattern x name), never exponential.
 */
static bool
imap_pattern_match(const char *p, const char *n)
{
	size_t nl = strlen(n);
	bool *row = xcalloc(2 * (nl + 1), sizeof(*row));
	bool *cur = row, *next = row + nl + 1, *t, ok;

	cur[0] = true;
	for (; *p != '\0'; p++) {
		switch (*p) {
		case '*':
			next[0] = cur[0];
			for (size_t j = 1; j <= nl; j++)
				next[j] = cur[j] || next[j - 1];
			break;
		case '%':
			next[0] = cur[0];
			for (size_t j = 1; j <= nl; j++)
				next[j] = cur[j] ||
				    (next[j - 1] && n[j - 1] != '/');
			break;
		default:
			next[0] = false;
			for (size_t j = 1; j <= nl; j++)
				next[j] = cur[j - 1] && n[j - 1] == *p;
			break;
		}
		t = cur;
		cur = next;
		next = t;
	}
	ok = cur[nl];
	free(row);
	return ok;
}

struct imap_list_mailbox {
	char *name;
	char *special_use;
	bool subscribed;
	bool exists;
	bool has_children;
	bool child_subscribed;
};

struct imap_list_ctx {
	struct imap_list_mailbox *mb;
	size_t n, cap;
	struct pool *pool;
};

static struct imap_list_mailbox *
imap_list_add(struct imap_list_ctx *lc, const char *name)
{
	struct imap_list_mailbox *m;

	if (lc->n == lc->cap) {
		lc->cap = lc->cap == 0 ? 16 : lc->cap * 2;
		lc->mb = xrealloc(lc->mb, lc->cap * sizeof(*lc->mb));
	}
	m = &lc->mb[lc->n++];
	memset(m, 0, sizeof(*m));
	m->name = pool_strdup(lc->pool, name);
	return m;
}

static int
imap_list_mailbox_cb(void *ctx, const struct store_mailbox_state *mb)
{
	struct imap_list_ctx *lc = ctx;
	struct imap_list_mailbox *m = imap_list_add(lc, mb->name);

	m->exists = true;
	m->subscribed = mb->subscribed;
	if (mb->special_use != NULL)
		m->special_use = pool_strdup(lc->pool, mb->special_use);
	return 0;
}

static int
imap_list_sub_cb(void *ctx, const char *name)
{
	struct imap_list_ctx *lc = ctx;

	for (size_t i = 0; i < lc->n; i++) {
		if (strcmp(lc->mb[i].name, name) == 0)
			return 0;	/* an existing mailbox: known */
	}
	imap_list_add(lc, name)->subscribed = true;
	return 0;
}

static int
imap_list_cmp(const void *a, const void *b)
{
	const struct imap_list_mailbox *x = a, *y = b;

	/* INBOX first, then by name */
	if (strcmp(x->name, "INBOX") == 0)
		return -1;
	if (strcmp(y->name, "INBOX") == 0)
		return 1;
	return strcmp(x->name, y->name);
}

#define LIST_SEL_SUBSCRIBED	0x01
#define LIST_SEL_SPECIALUSE	0x02
#define LIST_SEL_RECURSIVE	0x04
#define LIST_RET_SUBSCRIBED	0x01
#define LIST_RET_CHILDREN	0x02
#define LIST_RET_SPECIALUSE	0x04
#define LIST_RET_STATUS		0x08

static void imap_status_write(struct imap_conn *c, struct buf *out,
    const struct store_mailbox_state *mb, unsigned items);

static int
imap_status_items(const struct imap_arg *list, size_t n, unsigned *items_r);

void
imap_cmd_list(struct imap_conn *c, const struct imap_command *cmd)
{
	struct imap_list_ctx lc = { .pool = c->cmd_pool };
	const struct imap_arg *args = cmd->args, *sel, *ret, *pl;
	size_t n_args = cmd->n_args, n_sel, n_ret, n_pl;
	const char *patterns[IMAP_LIST_PATTERNS_MAX], *error;
	size_t n_patterns = 0;
	bool lsub = strcmp(cmd->name, "LSUB") == 0;
	unsigned sel_opts = 0, ret_opts = 0, status_items = 0;
	struct buf ref, pat, out;
	int rc;

	/* LIST [(selection)] reference pattern(s) [RETURN (options)] */
	if (!lsub && n_args > 0 && imap_arg_list(&args[0], &sel, &n_sel)) {
		for (size_t i = 0; i < n_sel; i++) {
			if (imap_arg_atom_eq(&sel[i], "SUBSCRIBED"))
				sel_opts |= LIST_SEL_SUBSCRIBED;
			else if (imap_arg_atom_eq(&sel[i], "SPECIAL-USE"))
				sel_opts |= LIST_SEL_SPECIALUSE;
			else if (imap_arg_atom_eq(&sel[i], "RECURSIVEMATCH"))
				sel_opts |= LIST_SEL_RECURSIVE;
			else if (!imap_arg_atom_eq(&sel[i], "REMOTE")) {
				imap_bad(c, "Unknown LIST selection option");
				return;
			}
		}
		/* RFC 5258 3.1: RECURSIVEMATCH alone is an error */
		if (sel_opts == LIST_SEL_RECURSIVE) {
			imap_bad(c, "RECURSIVEMATCH needs another option");
			return;
		}
		args++;
		n_args--;
	}
	if (!lsub && n_args == 4 && imap_arg_atom_eq(&args[2], "RETURN") &&
	    imap_arg_list(&args[3], &ret, &n_ret)) {
		for (size_t i = 0; i < n_ret; i++) {
			const struct imap_arg *sl;
			size_t n_sl;

			if (imap_arg_atom_eq(&ret[i], "SUBSCRIBED"))
				ret_opts |= LIST_RET_SUBSCRIBED;
			else if (imap_arg_atom_eq(&ret[i], "CHILDREN"))
				ret_opts |= LIST_RET_CHILDREN;
			else if (imap_arg_atom_eq(&ret[i], "SPECIAL-USE"))
				ret_opts |= LIST_RET_SPECIALUSE;
			else if (imap_arg_atom_eq(&ret[i], "STATUS") &&
			    i + 1 < n_ret &&
			    imap_arg_list(&ret[i + 1], &sl, &n_sl) &&
			    imap_status_items(sl, n_sl, &status_items) == 0) {
				ret_opts |= LIST_RET_STATUS;
				i++;
			} else {
				imap_bad(c, "Unknown LIST return option");
				return;
			}
		}
		n_args = 2;
	}
	if (n_args != 2) {
		imap_bad(c, "%s needs a reference and a pattern", cmd->name);
		return;
	}
	buf_init(&ref, STORE_MAILBOX_NAME_MAX);
	buf_init(&pat, IMAP_PATTERN_MAX);
	if (imap_mailbox_arg(c, &args[0], &ref) < 0)
		goto out;
	if (imap_arg_list(&args[1], &pl, &n_pl) && !lsub) {
		if (n_pl == 0 || n_pl > IMAP_LIST_PATTERNS_MAX) {
			imap_bad(c, "Invalid pattern list");
			goto out;
		}
	} else {
		pl = &args[1];
		n_pl = 1;
	}
	for (size_t i = 0; i < n_pl; i++) {
		size_t wild = 0;
		char *full;

		if (imap_mailbox_arg(c, &pl[i], &pat) < 0)
			goto out;
		for (size_t k = 0; k < pat.len; k++)
			wild += pat.data[k] == '*' || pat.data[k] == '%';
		if (wild > IMAP_PATTERN_WILDCARDS ||
		    ref.len + pat.len > IMAP_PATTERN_MAX) {
			imap_reply(c, "NO [LIMIT] Pattern too complex");
			goto out;
		}
		if (pat.len == 0 && n_pl == 1 && !lsub) {
			/* RFC 9051 6.3.9: the hierarchy delimiter */
			imap_send(c, "* LIST (\\Noselect) \"/\" \"\"");
			imap_reply(c, "OK LIST completed");
			goto out;
		}
		full = pool_printf(c->cmd_pool, "%s%s", ref.data != NULL ?
		    ref.data : "", pat.data != NULL ? pat.data : "");
		/* INBOX is case-insensitive (RFC 9051 5.1) */
		if (strncasecmp(full, "INBOX", 5) == 0 &&
		    (full[5] == '\0' || full[5] == '/'))
			memcpy(full, "INBOX", 5);
		patterns[n_patterns++] = full;
	}

	rc = store_mailbox_list_user(c->server->store, c->user_id,
	    imap_list_mailbox_cb, &lc, &error);
	if (rc == 0)
		rc = store_subscription_list(c->server->store, c->user_id,
		    imap_list_sub_cb, &lc, &error);
	if (rc < 0) {
		log_error("conn=%s imap list error=\"%s\"", c->id, error);
		imap_reply(c, "NO [SERVERBUG] LIST failed");
		goto out;
	}
	qsort(lc.mb, lc.n, sizeof(*lc.mb), imap_list_cmp);
	for (size_t i = 0; i < lc.n; i++) {
		size_t len = strlen(lc.mb[i].name);

		for (size_t j = 0; j < lc.n; j++) {
			if (strncmp(lc.mb[j].name, lc.mb[i].name, len) == 0 &&
			    lc.mb[j].name[len] == '/') {
				if (lc.mb[j].exists)
					lc.mb[i].has_children = true;
				if (lc.mb[j].subscribed)
					lc.mb[i].child_subscribed = true;
			}
		}
	}

	buf_init(&out, SIZE_MAX);
	for (size_t i = 0; i < lc.n; i++) {
		struct imap_list_mailbox *m = &lc.mb[i];
		bool match = false, childinfo = false, first = true;

		for (size_t p = 0; p < n_patterns && !match; p++)
			match = imap_pattern_match(patterns[p], m->name);
		if (!match)
			continue;
		if (lsub || (sel_opts & LIST_SEL_SUBSCRIBED) != 0) {
			if (!m->subscribed) {
				if ((sel_opts & LIST_SEL_RECURSIVE) == 0 ||
				    !m->child_subscribed)
					continue;
				childinfo = true;
			}
		} else if (!m->exists) {
			continue;	/* a subscription only */
		}
		if ((sel_opts & LIST_SEL_SPECIALUSE) != 0 &&
		    m->special_use == NULL)
			continue;
		buf_printf(&out, "* %s (", lsub ? "LSUB" : "LIST");
#define LIST_ATTR(s) do { \
		if (!first) buf_puts(&out, " "); \
		buf_puts(&out, (s)); first = false; } while (0)
		if (!m->exists)
			LIST_ATTR(lsub ? "\\Noselect" : "\\NonExistent");
		else if (!lsub)
			LIST_ATTR(m->has_children ? "\\HasChildren" :
			    "\\HasNoChildren");
		if (!lsub && m->subscribed &&
		    ((ret_opts & LIST_RET_SUBSCRIBED) != 0 ||
		    (sel_opts & LIST_SEL_SUBSCRIBED) != 0))
			LIST_ATTR("\\Subscribed");
		/* RFC 6154 2: given with every LIST, asked for or not */
		if (!lsub && m->special_use != NULL)
			LIST_ATTR(m->special_use);
#undef LIST_ATTR
		buf_puts(&out, ") \"/\" ");
		imap_mailbox_write(c, &out, m->name);
		if (childinfo)
			buf_puts(&out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
		buf_puts(&out, "\r\n");
		if ((ret_opts & LIST_RET_STATUS) != 0 && m->exists) {
			struct store_mailbox_state st;

			if (store_mailbox_get(c->server->store, c->user_id,
			    m->name, &st, &error) == 0)
				imap_status_write(c, &out, &st, status_items);
		}
		if (out.len > 64 * 1024)
			imap_send_buf(c, &out);
	}
	imap_send_buf(c, &out);
	buf_release(&out);
	imap_reply(c, "OK %s completed", cmd->name);
out:
	free(lc.mb);
	buf_release(&ref);
	buf_release(&pat);
}

/* --- STATUS --- */

#define STATUS_MESSAGES		0x01
#define STATUS_UIDNEXT		0x02
#define STATUS_UIDVALIDITY	0x04
#define STATUS_UNSEEN		0x08
#define STATUS_DELETED		0x10
#define STATUS_SIZE		0x20
#define STATUS_RECENT		0x40
#define STATUS_HIGHESTMODSEQ	0x80

static int
imap_status_items(const struct imap_arg *list, size_t n, unsigned *items_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{ "MESSAGES", STATUS_MESSAGES }, { "UIDNEXT", STATUS_UIDNEXT },
		{ "UIDVALIDITY", STATUS_UIDVALIDITY },
		{ "UNSEEN", STATUS_UNSEEN }, { "DELETED", STATUS_DELETED },
		{ "SIZE", STATUS_SIZE }, { "RECENT", STATUS_RECENT },
		{ "HIGHESTMODSEQ", STATUS_HIGHESTMODSEQ },
	};
	unsigned items = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		bool known = false;

		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			if (imap_arg_atom_eq(&list[i], names[k].name)) {
				items |= names[k].bit;
				known = true;
			}
		}
		if (!known)
			return -1;
	}
	*items_r = items;
	return 0;
}

static void
imap_status_write(struct imap_conn *c, struct buf *out,
    const struct store_mailbox_state *mb, unsigned items)
{
	const char *sep = "";

	buf_puts(out, "* STATUS ");
	imap_mailbox_write(c, out, mb->name);
	buf_puts(out, " (");
#define STATUS_ITEM(bit, fmt, val) do { \
	if ((items & (bit)) != 0) { \
		buf_printf(out, "%s" fmt, sep, (val)); sep = " "; } \
	} while (0)
	STATUS_ITEM(STATUS_MESSAGES, "MESSAGES %llu",
	    (unsigned long long)mb->messages);
	STATUS_ITEM(STATUS_RECENT, "RECENT %d", 0);
	STATUS_ITEM(STATUS_UIDNEXT, "UIDNEXT %u", mb->uidnext);
	STATUS_ITEM(STATUS_UIDVALIDITY, "UIDVALIDITY %u", mb->uidvalidity);
	STATUS_ITEM(STATUS_UNSEEN, "UNSEEN %llu",
	    (unsigned long long)mb->unseen);
	STATUS_ITEM(STATUS_DELETED, "DELETED %llu",
	    (unsigned long long)mb->deleted);
	STATUS_ITEM(STATUS_SIZE, "SIZE %llu", (unsigned long long)mb->bytes);
	STATUS_ITEM(STATUS_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu",
	    (unsigned long long)mb->highestmodseq);
#undef STATUS_ITEM
	buf_puts(out, ")\r\n");
}

void
imap_cmd_status(struct imap_conn *c, const struct imap_command *cmd)
{
	struct store_mailbox_state mb;
	const struct imap_arg *list;
	const char *error;
	struct buf name, out;
	unsigned items;
	size_t n;
	int rc;

	if (cmd->n_args != 2 || !imap_arg_list(&cmd->args[1], &list, &n)) {
		imap_bad(c, "STATUS needs a mailbox and a list of items");
		return;
	}
	if (imap_status_items(list, n, &items) < 0) {
		imap_bad(c, "Unknown STATUS item");
		return;
	}
	buf_init(&name, STORE_MAILBOX_NAME_MAX);
	if (imap_mailbox_arg(c, &cmd->args[0], &name) < 0) {
		buf_release(&name);
		return;
	}
	rc = store_mailbox_get(c->server->store, c->user_id, name.data, &mb,
	    &error);
	buf_release(&name);
	if (rc != 0) {
		imap_reply(c, rc == STORE_E_NOTFOUND ?
		    "NO [NONEXISTENT] No such mailbox" :
		    "NO [SERVERBUG] STATUS failed");
		return;
	}
	if ((items & STATUS_HIGHESTMODSEQ) != 0)
		c->condstore = true;	/* RFC 7162 3.1: enables it */
	buf_init(&out, SIZE_MAX);
	imap_status_write(c, &out, &mb, items);
	imap_send_buf(c, &out);
	buf_release(&out);
	imap_reply(c, "OK STATUS completed");
}

void
imap_cmd_namespace(struct imap_conn *c, const struct imap_command *cmd)
{
	if (cmd->n_args != 0) {
		imap_bad(c, "NAMESPACE takes no arguments");
		return;
	}
	/* one personal namespace, no others (RFC 2342) */
	imap_send(c, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_reply(c, "OK NAMESPACE completed");
}
