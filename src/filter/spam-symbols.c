/*
 * spam-symbols.c - every symbol a check can add, with its default weight.
 *
 * Weights are in SpamAssassin's units: 5 makes a message Junk by default
 * ([spam] junk_score), 10 holds it ([spam] quarantine_score), 15 rejects
 * it ([spam] reject_score). A symbol that alone proves a message spam is
 * worth the Junk threshold or more; signs that only add up (a missing
 * Date:) are worth one or two; signs of legitimate mail are negative.
 * The administrator changes any of them with [spam] scores.
 *
 * One block per check module, in the order the pipeline runs them.
 */
#include "filter/spam.h"

const struct spam_symbol_def spam_symbols[] = {
	/* Test strings (filter/spam-content.c). */
	{ "GTUBE", 1000, 0,
	    "the GTUBE test string: treated as certain spam" },

	/* SPF, DKIM and DMARC, as auth-check computed them
	 * (filter/spam-content.c reads the result). */
	{ "SPF_FAIL", 3, 0, "SPF fail for the envelope sender" },
	{ "SPF_SOFTFAIL", 1.5, 0, "SPF softfail for the envelope sender" },
	{ "SPF_PERMERROR", 0.5, 0, "the sender's SPF record is broken" },
	{ "DKIM_FAIL", 1, 0, "a DKIM signature did not verify" },
	{ "DMARC_FAIL", 3, 0, "DMARC fail for the From: domain" },
	{ "DMARC_AMBIGUOUS", 4, 0,
	    "several From: fields or domains: DMARC cannot judge it" },
	{ "AUTH_ALIGNED_PASS", -1, 0,
	    "DMARC pass: the From: domain is authenticated" },

	/* Header anomalies (filter/spam-content.c). */
	{ "HEADER_NO_DATE", 1.5, 0, "no Date: field" },
	{ "HEADER_NO_MESSAGE_ID", 1.5, 0, "no Message-ID: field" },
	{ "HEADER_NO_FROM", 3, 0, "no From: address" },
	{ "HEADER_DATE_FUTURE", 2, 0,
	    "Date: more than a day in the future" },
	{ "HEADER_DATE_PAST", 1, 0, "Date: more than a month in the past" },
	{ "HEADER_DATE_INVALID", 1, 0, "a Date: that does not parse" },
	{ "HEADER_FORGED_RECEIVED", 4, 0,
	    "a Received: field that claims this server's name" },
	{ "HEADER_REPLYTO_FREEMAIL", 2, 0,
	    "Reply-To: a freemail address while From: is another domain" },
	{ "HEADER_REPLYTO_OTHER", 0.5, 0,
	    "Reply-To: another domain than From:" },
	{ "HEADER_FROM_NAME_ADDR", 2.5, 0,
	    "the From: display name holds an address of another domain" },
	{ "HEADER_FROM_NAME_LOCAL", 4, 0,
	    "the From: display name holds an address of a hosted domain" },
	{ "HEADER_FROM_LOCAL_UNAUTH", 3, 0,
	    "From: a hosted domain, from the Internet, not authenticated" },
	{ "HEADER_SUBJECT_ALLCAPS", 0.5, 0, "the Subject: is all capitals" },
	{ "HEADER_LIST_ID", -0.5, 0,
	    "mailing-list mail (List-Id: with List-Unsubscribe:)" },

	/* HTML and phishing (filter/spam-html.c). */

	/* Attachments and malware (filter/spam-attach.c). */

	/* DNS: blocklists, reverse DNS, HELO (filter/spam-dns.c). */

	/* The statistical classifier (filter/bayes.c): one of these, by
	 * the chi-square spam probability p, once enough was learnt. */
	{ "BAYES_00", -1.9, 0, "classifier: p < 0.01, almost surely ham" },
	{ "BAYES_05", -0.5, 0, "classifier: p from 0.01 to 0.05" },
	{ "BAYES_20", -0.1, 0, "classifier: p from 0.05 to 0.40" },
	{ "BAYES_50", 0, 0, "classifier: p from 0.40 to 0.60, undecided" },
	{ "BAYES_80", 1.0, 0, "classifier: p from 0.60 to 0.95" },
	{ "BAYES_95", 2.5, 0, "classifier: p from 0.95 to 0.99" },
	{ "BAYES_99", 3.5, 0, "classifier: p >= 0.99, almost surely spam" },

	/* Milters (filter/milter.c). */

	/* Allow and block lists (filter/spam-lists.c). */
};

const size_t spam_n_symbols = sizeof(spam_symbols) / sizeof(spam_symbols[0]);
