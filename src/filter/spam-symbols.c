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
	{ "SPF_FAIL", 1.5, 0, "SPF fail for the envelope sender" },
	{ "SPF_SOFTFAIL", 0.5, 0, "SPF softfail for the envelope sender" },
	{ "SPF_PERMERROR", 0.5, 0, "the sender's SPF record is broken" },
	{ "DKIM_FAIL", 1, 0, "a DKIM signature did not verify" },
	/* DMARC's p=reject and p=quarantine act on their own; this is
	 * the weight of a failure under p=none. */
	{ "DMARC_FAIL", 1.5, 0, "DMARC fail for the From: domain" },
	/* DMARC already sends an ambiguous From: to Junk; this counts
	 * it for the score too. */
	{ "DMARC_AMBIGUOUS", 2, 0,
	    "no single From: domain (several fields or domains, or none "
	    "that parses): DMARC cannot judge it" },
	{ "AUTH_ALIGNED_PASS", -1, 0,
	    "DMARC pass: the From: domain is authenticated" },

	/* Header anomalies (filter/spam-content.c). */
	{ "HEADER_NO_DATE", 1, 0, "no Date: field" },
	{ "HEADER_NO_MESSAGE_ID", 1, 0, "no Message-ID: field" },
	{ "HEADER_NO_FROM", 2, 0, "no From: address" },
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
	{ "HTML_LINK_MISMATCH", 3.5, 0,
	    "a link's text shows another registered domain than it goes to" },
	{ "HTML_LINK_IP", 2, 0, "a link to a bare IP address" },
	{ "HTML_LINK_IP_ENCODED", 3, 0,
	    "a link to an IP address written to hide it (decimal, hex)" },
	{ "URL_SHORTENER", 1, 0, "a link through a URL shortener" },
	{ "LOOKALIKE_LOCAL", 5, 0,
	    "a link or From: domain that looks like a hosted domain" },
	{ "LOOKALIKE_BRAND", 3.5, 0,
	    "a link or From: domain that looks like a well-known brand's" },
	{ "IDN_HOMOGRAPH", 4, 0,
	    "an IDN domain that mixes scripts or imitates an ASCII domain" },
	{ "HTML_FORM_EXTERNAL", 3, 0,
	    "a form with a password field, or posting to another domain" },
	{ "HTML_META_REFRESH", 2, 0,
	    "an HTML refresh to another domain than From:'s" },
	{ "HTML_ONLY_NO_TEXT", 1.5, 0, "HTML with several links and no text" },

	/* Attachments and malware (filter/spam-attach.c). The test file
	 * is certain, like GTUBE. What Windows would run is held; its
	 * weights keep the usual combinations (invoice.pdf.exe: 5 + 4 + 4)
	 * under the reject threshold, so that such mail is quarantined,
	 * where a false positive can be released, rather than refused. */
	{ "EICAR", 1000, SPAM_SYM_HOLD,
	    "the EICAR anti-virus test file, in a part or an archive" },
	{ "ATTACH_EXECUTABLE", 5, SPAM_SYM_HOLD,
	    "an executable attachment by content (PE, ELF, Mach-O, MSI, "
	    "Java, LNK, ISO)" },
	{ "ATTACH_DANGEROUS_NAME", 4, SPAM_SYM_HOLD,
	    "an attachment name Windows runs (.exe .scr .js .vbs .lnk ...)" },
	{ "ATTACH_DOUBLE_EXT", 4, 0,
	    "an attachment name that hides its extension (x.pdf.exe, "
	    "padding, U+202E)" },
	{ "ATTACH_MACRO", 5, SPAM_SYM_HOLD,
	    "a macro-enabled office document (VBA, OpenDocument Basic)" },
	{ "ATTACH_ARCHIVE_EXECUTABLE", 5, SPAM_SYM_HOLD,
	    "an archive or document holding an executable, a dangerous "
	    "name or macros" },
	{ "ATTACH_ENCRYPTED_ARCHIVE", 5, SPAM_SYM_HOLD,
	    "an encrypted zip entry: its content cannot be checked" },
	{ "ATTACH_NAME_MISMATCH", 3, 0,
	    "an attachment whose content contradicts its name" },
	{ "ATTACH_UNREADABLE_ARCHIVE", 4, 0,
	    "a zip that is corrupt, bomb-like or too deep to check" },

	/* DNS: blocklists, reverse DNS, HELO (filter/spam-dns.c). */

	/* The statistical classifier (filter/bayes.c): one of these, by
	 * the chi-square spam probability p, once enough was learnt. */
	{ "BAYES_00", -1.9, 0, "classifier: p < 0.01, almost surely ham" },
	{ "BAYES_05", -0.5, 0, "classifier: p from 0.01 to 0.05" },
	{ "BAYES_20", -0.1, 0, "classifier: p from 0.05 to 0.40" },
	{ "BAYES_50", 0, 0, "classifier: p from 0.40 to 0.60, undecided" },
	{ "BAYES_80", 1.0, 0, "classifier: p from 0.60 to 0.95" },
	{ "BAYES_95", 3, 0, "classifier: p from 0.95 to 0.99" },
	/* Certain enough to be Junk on its own: bulk spam often has clean
	 * headers and no links to judge, and nothing else adds to it. */
	{ "BAYES_99", 5.5, 0, "classifier: p >= 0.99, almost surely spam" },

	/* Milters (filter/milter.c). */
	{ "MILTER_QUARANTINE", 0, SPAM_SYM_HOLD,
	    "a milter asked to quarantine the message" },

	/* Allow and block lists (filter/spam-lists.c). */
	{ "ALLOWLIST", -20, 0,
	    "an authenticated sender on the allow list" },
	{ "ALLOWLIST_UNAUTH", 0, 0,
	    "a sender on the allow list, not authenticated: not let through" },
	{ "BLOCKLIST", 20, 0, "a sender on the block list" },
};

const size_t spam_n_symbols = sizeof(spam_symbols) / sizeof(spam_symbols[0]);
