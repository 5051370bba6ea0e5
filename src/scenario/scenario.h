/*
 * Scenario files (.cow): what a user of cowlab writes.  This header is the
 * parsed form (parser.c builds it, interp.c runs it) and the grammar.
 *
 * A scenario is line oriented.  '#' starts a comment.  Indentation nests:
 * a line belongs to the block of the nearest less-indented line above it
 * that opens a block (process, thread).  Tabs count as 8 columns.
 *
 *   system [frames=N] [swap=N] [cpus=N] [zero_page=on|off] [hugepages=N]
 *                                     hugepages: the hugetlb pool, N pages
 *                                     of 2 MiB (0..1024), which a map ...
 *                                     hugetlb needs
 *   policy NAME                       default preset (cowlab --policy wins)
 *   expect VERDICT PRESET...          the verdict history documents under
 *                                     each PRESET (cowlab matrix checks it):
 *                                     pass, or a verdict word, crash or error
 *   file NAME SIZE [fill=BYTE]        a named byte array (a data file)
 *   process NAME                      a block of NAME's main thread; NAME
 *                                     is created unless a fork made it
 *     OP ...
 *     thread TNAME                    a thread of the process ...
 *       OP ...
 *     thread TNAME OP                 ... or a one-operation thread
 *     join                            the threads above run concurrently
 *                                     from the first `thread` to `join`
 *   thread TNAME in PROC              a top-level thread group member
 *   join
 *
 * Operations (OP): one a line, each as ops.def lists it (its word, its
 *   operands, what it does; docs/scenarios.md's table is generated from
 *   there).  repeat and fork may open a body: the operations indented
 *   under them (a fork's child runs its body at once, then exits).
 *   PAGES   exclusive (present, mapped exclusively: PG_anon_exclusive),
 *           shared (present, not exclusive), present (a frame is mapped),
 *           swapped (a swap PTE), merged (present, a KSM page), huge
 *           (present, mapped by a huge PMD), pte-mapped (present, a page
 *           of a large folio mapped by a PTE), hugetlb (present, a page of
 *           the hugetlb pool; huge holds for it too)
 *   sigbus  write, read and check (check VERDICT RANGE sigbus) expect the
 *           access to raise SIGBUS (a hugetlb mapping without its huge
 *           page): it must, or the run is an error; an access without it
 *           that raises SIGBUS is an error too
 *   In a check, RANGE may also name a file (its bytes now, as read(2)
 *   sees them: through the page cache where the file is mapped), a pin
 *   (what the pinned frames hold) or a pipe (what reading it would
 *   deliver); FRANGE is a file's RANGE.
 * `madvise pageout` is refused with a pointer to its spelling here,
 *   `swapout RANGE`.
 *
 *   SIZE    123, 0x1f, 4K, 2M, 1G, or N page(s)
 *   RANGE   MAP, MAP[OFF], MAP[OFF..END], MAP[OFF..+LEN] (MAP a mapping;
 *           in VALUE and FRANGE a file; in a check any of the four);
 *           MAP[OFF] is one byte
 *   VALUE   0xNN (a byte), "text" (\n \t \\ \" \xNN escapes), or a file RANGE
 *           (the file's bytes when the operation runs, as read(2) sees them)
 *   VERDICT corrupt | leak | desync | overwrite: what the check guards
 *
 * Rules the parser adds (parser.c has them all):
 *   NAME    [A-Za-z_][A-Za-z0-9_.-]*, at most 31 characters, not a
 *           keyword (operation and block words); a name ends before ".."
 *           and "->".  Processes, mappings, files, pins and pipes share
 *           one namespace; thread names are apart (unique per group).
 *   BYTE    hex only, 0x00..0xff, so that a byte never reads as a size.
 *   strings 1..4096 bytes, never longer than the range they go with.
 *   munmap, mprotect, madvise, swapout, uffd_continue and pin take a
 *   page-aligned OFF
 *   (LEN need not be).  dio_read and dio_write move equally long ranges,
 *   and both offsets and the length are multiples of 512 (O_DIRECT's
 *   rules).
 *   map thp asks for transparent huge pages: private anonymous memory only
 *   (not with shared, nor with file=).  map hugetlb is anonymous memory,
 *   private or shared (not with file=, nor with thp), of a size in whole
 *   2M, in a scenario whose system line gives hugepages=N (N >= 1;
 *   frames=, if given, at least N * 512).
 *   map file=FILE names a declared file, once, and maps at most the file's
 *   size rounded up to whole pages.  A file is either mapped (in any map
 *   line) or a direct-I/O target (in any dio_read or dio_write), never
 *   both: cowlab's page cache does not follow direct I/O.
 *   A pin lives from its pin to its unpin (by the same process, once); a
 *   pipe from its vmsplice to its one pipe_read (by any process, into a
 *   range exactly as long).  Checks may read them in between, from any
 *   process; `faults` checks mappings only.  In a thread group, a pin or
 *   pipe one thread makes is used by the others after join, and a thread
 *   that unpins or reads one shares its group with no thread using it.
 *   In a thread group a thread sees the mappings its process had when the
 *   group began plus its own maps; the others' maps are seen after join.
 *   expect names known presets (cow_policy_find), each at most once in
 *   all the expect lines; like system and policy, before any process.
 *   Tabs advance to the next multiple of 8 columns; a line indented deeper
 *   than the line above must be the body of a block that line opens.
 *   Limits: 1 MiB of text, 4096-byte lines, 1024 processes, 1024 mapping
 *   names, 256 files (64 MiB each), 1024 pins, 1024 pipes, 63 threads in
 *   a group, maps of 64 GiB.
 *
 * Errors are reported as "FILE:LINE:COL: message" (COL counts bytes from
 * 1; a tab is one); the parser never crashes or hangs on any input (a fuzz
 * target, tests/fuzz/fuzz_parser.c, proves it).
 */
#ifndef COW_SCENARIO_H
#define COW_SCENARIO_H

#include "base/base.h"

#include <stddef.h>

#define SCEN_NAME_MAX 32
#define SCEN_PAGE_SIZE 4096UL

enum scen_verdict { VERDICT_CORRUPT, VERDICT_LEAK, VERDICT_DESYNC, VERDICT_OVERWRITE };

/* Where an operation may stand (the flags of ops.def). */
#define OPF_ONCE 1	/* made once: not inside a repeat nor a fork's body */
#define OPF_NO_REPEAT 2 /* not inside a repeat: it would run again each pass */
#define OPF_BODY 4	/* opens a body: the lines indented under it */
#define OPF_MAIN 8	/* not in a thread of a group: a process's main thread */

/* The operations, in ops.def's order, then OP_GROUP: a thread group
 * (threads first..first+nr-1, then join), which the thread and join
 * lines make, not an operation's word. */
enum scen_op_kind {
#define OP(kind, word, flags, ...) OP_##kind,
#include "scenario/ops.def"
#undef OP
	OP_GROUP,
};
#define SCEN_NR_OP_WORDS ((int)OP_GROUP)

/* An operation as ops.def describes it: its word, its OPF_* flags, and
 * its rows of the operation table in docs/scenarios.md. */
struct scen_op_form {
	const char *synopsis, *meaning; /* Markdown */
};
struct scen_op_info {
	const char *word;
	unsigned flags;
	const struct scen_op_form *forms;
	int nr_forms;
};
/* kind's description (0 <= kind < SCEN_NR_OP_WORDS). */
const struct scen_op_info *scen_op_info(int kind);

#define SCEN_MAX_REPEAT 1000000UL /* the largest repeat count */
#define SCEN_MAX_TUPLE 16	  /* ranges of one check */
#define SCEN_MAX_ALTS 64	  /* alternatives of one check */

/* What a range's name refers to. */
enum scen_space {
	SPACE_MAP,  /* maps[]: the executing process's mapping */
	SPACE_FILE, /* files[] */
	SPACE_PIN,  /* pins[]: offsets relative to the pinned range */
	SPACE_PIPE, /* pipes[]: offsets relative to the spliced range */
};

/* CMP_FAULTS, CMP_SIGBUS: reading the range (a mapping's) must fault,
 * must raise SIGBUS (a hugetlb mapping without its huge page).
 * CMP_EXCLUSIVE, CMP_SHARED: every page of the range is (is not) mapped
 * exclusively, PG_anon_exclusive (the host: /proc/kpageflags).  From
 * CMP_EXCLUSIVE on, the page states (scen_cmp_is_page) a check or a
 * require tests page by page, without touching: CMP_PRESENT a frame is
 * mapped, CMP_SWAPPED a swap PTE (the host: /proc/self/pagemap bits 63
 * and 62), CMP_MERGED present and a KSM page (the host: KPF_KSM),
 * CMP_HUGE present and mapped by a huge PMD, CMP_PTE_MAPPED present, a
 * page of a large folio (THP) and mapped by a PTE (the host: KPF_THP,
 * and the VMA's AnonHugePages in /proc/self/smaps), CMP_HUGETLB present
 * and a page of the hugetlb pool (the host: KPF_HUGE). */
enum scen_cmp {
	CMP_EQ,
	CMP_NE,
	CMP_FAULTS,
	CMP_SIGBUS,
	CMP_EXCLUSIVE,
	CMP_SHARED,
	CMP_PRESENT,
	CMP_SWAPPED,
	CMP_MERGED,
	CMP_HUGE,
	CMP_PTE_MAPPED,
	CMP_HUGETLB,
};
#define CMP_LAST CMP_HUGETLB

static inline bool scen_cmp_is_page(enum scen_cmp c)
{
	return c >= CMP_EXCLUSIVE;
}

struct scen_loc {
	int line, col; /* 1-based */
};

/* Bytes [off, off + len) of mapping, file, pin or pipe number `name`. */
struct scen_range {
	enum scen_space space; /* is_file == (space == SPACE_FILE) */
	int name;	       /* index into maps[], files[], pins[] or pipes[] */
	bool is_file;
	bool whole; /* the whole of it: off 0, len = its size */
	unsigned long off;
	unsigned long len;
};

enum scen_value_kind { VAL_BYTE, VAL_BYTES, VAL_FILE };

struct scen_value {
	enum scen_value_kind kind;
	unsigned char byte;   /* VAL_BYTE */
	unsigned char *bytes; /* VAL_BYTES: a string, repeated to fill */
	size_t nbytes;
	struct scen_range file; /* VAL_FILE: is_file set */
};

struct scen_op {
	enum scen_op_kind kind;
	struct scen_loc loc;
	int proc; /* index into scenario.procs[]: who executes it */
	union {
		struct {
			int name;	   /* maps[] */
			unsigned long len; /* bytes, a multiple of the page size */
			int prot;	   /* COW_PROT_* */
			bool shared;
			int file; /* files[] it maps (file=), or -1: anonymous */
			bool thp; /* COW_MAP_THP: private anonymous memory only */
			/* COW_MAP_HUGETLB: anonymous memory, private or shared
			 * (then COW_MAP_SHARED too), whole 2M, not with thp */
			bool hugetlb;
		} map;
		struct {
			struct scen_range range;
			struct scen_value value;
			bool sigbus; /* OP_WRITE: it must raise SIGBUS */
		} write;	     /* OP_WRITE, OP_POKE */
		struct {
			struct scen_range range;
			bool sigbus;	 /* OP_READ: it must raise SIGBUS */
		} read, munmap, swapout; /* swapout: OP_UFFD_CONTINUE too */
		/* OP_CHECK; OP_REQUIRE uses range and cmp (a page state).
		 * CMP_EQ may compare several ranges at once against several
		 * alternatives: then ranges[] and values[] hold them all
		 * (range and value are ranges[0] and values[0], value's bytes
		 * owned by values[]); scen_check_range and scen_check_value
		 * give either form. */
		struct {
			enum scen_verdict verdict;
			enum scen_cmp cmp;
			struct scen_range range;   /* any space; not CMP_EQ/NE: SPACE_MAP */
			struct scen_value value;   /* CMP_EQ and CMP_NE only */
			int nr_ranges;		   /* 1..SCEN_MAX_TUPLE */
			int nr_alts;		   /* 1..SCEN_MAX_ALTS; CMP_NE: 1 */
			struct scen_range *ranges; /* [nr_ranges], or NULL */
			struct scen_value *values; /* [nr_alts][nr_ranges], or NULL */
		} check;
		struct {
			int child; /* procs[] */
			int nr;	   /* a body: the next nr operations (the child's) */
		} fork;
		struct {
			unsigned long count;	  /* 1..SCEN_MAX_REPEAT: the model's */
			unsigned long host_count; /* ... the host's (host=M; else count) */
			int nr;			  /* the body: the next nr operations */
		} repeat;
		struct {
			struct scen_range range;
			int prot;
		} mprotect;
		struct {
			struct scen_range range;
			int advice; /* COW_MADV_* */
		} madvise;
		struct {
			int first, nr; /* threads[] */
		} group;
		struct {
			struct scen_range file; /* SPACE_FILE */
			struct scen_range mem;	/* SPACE_MAP, same length */
		} dio;				/* OP_DIO_READ, OP_DIO_WRITE */
		struct {
			int pin; /* pins[] */
			struct scen_range mem;
			bool ro, fast;
		} pin;
		struct {
			int pin;
		} unpin;
		struct {
			struct scen_range mem;
			int pipe; /* pipes[] */
		} splice;	  /* OP_VMSPLICE, OP_PIPE_READ */
	};
};

struct scen_thread {
	char name[SCEN_NAME_MAX];
	struct scen_loc loc;
	int proc; /* the process it is a thread of */
	struct scen_op *ops;
	int nr_ops;
};

struct scen_file {
	char name[SCEN_NAME_MAX];
	unsigned long size;
	unsigned char fill;
	bool mapped; /* a map line maps it (file=); then no direct I/O uses it */
};

struct scen_map {
	char name[SCEN_NAME_MAX];
	unsigned long len; /* from its (first) map operation */
};

/* A pin or a pipe: defined by its pin or vmsplice operation. */
struct scen_ref {
	char name[SCEN_NAME_MAX];
	unsigned long len; /* bytes of the range it holds */
	int proc;	   /* the process whose pages it holds */
};

struct scen_proc {
	char name[SCEN_NAME_MAX];
	struct scen_loc loc; /* where it is first named */
};

/* What an expect line documents for one preset: the verdict the explorer
 * finds under it.  One entry per preset; a line naming several presets
 * makes one each. */
struct scen_expect {
	char preset[SCEN_NAME_MAX]; /* a preset of `cowlab policies` */
	char verdict[16];	    /* "pass", or a word of scen_expect_verdicts */
	struct scen_loc loc;	    /* the preset's name in its expect line */
};

struct scenario {
	char path[256];
	uint64_t hash;	     /* FNV-1a of the text parsed: replay tokens carry it */
	struct scen_op *ops; /* the top-level sequence */
	int nr_ops;
	struct scen_thread *threads;
	int nr_threads;
	struct scen_proc *procs;
	int nr_procs;
	struct scen_map *maps;
	int nr_maps;
	struct scen_file *files;
	int nr_files;
	struct scen_ref *pins;
	int nr_pins;
	struct scen_ref *pipes;
	int nr_pipes;
	int nr_dio; /* dio_read and dio_write operations, threads included */
	/* pins[] and pipes[] are numbered in program order (a group's
	 * threads where its OP_GROUP stands); proc made them. */
	/* system line and policy line; 0 / NULL where not given */
	unsigned long frames;
	unsigned long swap_slots; /* 0: the default, 4 per frame */
	int cpus;
	int zero_page;		 /* -1 not given, 0 off, 1 on */
	unsigned long hugepages; /* the hugetlb pool in 2 MiB pages; 0: none */
	char policy[COW_POLICY_NAME_MAX];
	struct scen_expect *expects; /* expect lines, in file order */
	int nr_expects;
	int max_group; /* the largest thread group */
	int nr_checks;
	char *text; /* the text parsed, NUL-terminated (traces quote its lines) */
	size_t text_len;
};

/* Parse text (len bytes, need not be NUL-terminated) read from path.
 * Returns 0, or COW_EINVAL with "path:line:col: message" in err, or
 * COW_ENOMEM.  *out is set only on success; free it with scen_free(). */
int scen_parse(const char *path, const char *text, size_t len, struct scenario **out, char *err,
	       size_t errlen);
/* Read and parse a file; COW_ENOENT with the reason in err if unreadable. */
int scen_load(const char *path, struct scenario **out, char *err, size_t errlen);
void scen_free(struct scenario *s);
/* Line line of the text, without its indentation, comment and trailing
 * blanks, into buf; false if there is no such line. */
bool scen_source_line(const struct scenario *s, int line, char *buf, size_t len);

const char *scen_verdict_name(enum scen_verdict v);
/* The shift of a size's suffix ('K' 10, 'M' 20, 'G' 30, in either case),
 * or -1 for any other character. */
int scen_size_shift(int c);
/* The word of a page state (scen_cmp_is_page): "exclusive", "swapped"... */
const char *scen_cmp_name(enum scen_cmp c);
/* A page as a page-state check sees it: flags from the page table (the
 * model's) or from /proc/self/pagemap and /proc/kpageflags (the host's). */
#define SCEN_PAGE_PRESENT 0x01	 /* a frame is mapped */
#define SCEN_PAGE_SWAPPED 0x02	 /* a swap entry */
#define SCEN_PAGE_EXCLUSIVE 0x04 /* present, anonymous, PG_anon_exclusive */
#define SCEN_PAGE_KSM 0x08	 /* present, a KSM page */
#define SCEN_PAGE_HUGE 0x10	 /* present, mapped by a huge PMD */
#define SCEN_PAGE_LARGE 0x20	 /* present, a page of a large folio (KPF_THP) */
#define SCEN_PAGE_HUGETLB 0x40	 /* present, a page of the hugetlb pool (KPF_HUGE) */

/* A huge page, THP's or hugetlb's. */
#define SCEN_HPAGE_SIZE (2UL << 20)
/* What a map ... hugetlb that fails for want of memory says after the
 * executor's word for it (the model's "out of memory", the host's
 * ENOMEM): mmap reserves the mapping's huge pages, and the pool (its
 * argument: the scenario's hugepages) has too few left. */
#define SCEN_HUGETLB_ENOMEM                                                          \
	"; a hugetlb mapping fails so too when the pool (system hugepages=%lu) has " \
	"no huge page left to reserve for each 2M of it"
/* The largest hugetlb pool (system hugepages=). */
#define SCEN_MAX_HUGEPAGES 1024UL
/* Does op expect its access to raise SIGBUS (write ... sigbus, read ...
 * sigbus, check VERDICT RANGE sigbus)? */
bool scen_op_sigbus(const struct scen_op *op);
/* Does s map hugetlb memory anywhere (map ... hugetlb)? */
bool scen_has_hugetlb(const struct scenario *s);
/* How many operations op stands for in its sequence: 1, plus its body
 * for a repeat or a fork with a body (the body follows it). */
int scen_op_span(const struct scen_op *op);
/* A check's range i (0..nr_ranges-1) and the value alternative alt
 * compares it with (CMP_EQ, CMP_NE). */
const struct scen_range *scen_check_range(const struct scen_op *op, int i);
const struct scen_value *scen_check_value(const struct scen_op *op, int alt, int i);
/* A check's ranges or alternatives as a message names them:
 * "buf[0..+4096], buf[4096..+4096]", "0x11, 0x11 | 0x22, 0x11". */
void scen_check_describe_ranges(const struct scenario *s, const struct scen_op *op, char *buf,
				size_t len);
void scen_check_describe_values(const struct scenario *s, const struct scen_op *op, char *buf,
				size_t len);

/* Judging a check or a require (check.c): one evaluator and one wording
 * for the model (interp.c) and the host (src/kernel), which differ only
 * in how they read.  read gives n bytes at offset at of the check's range
 * i as the executor sees them, fill the bytes of a value at [at, at + n)
 * of its range (both: 0 or an error code of the executor's); page gives
 * the SCEN_PAGE_* flags of the page at offset at of the check's range,
 * without touching it (want: the flags beyond SCEN_PAGE_PRESENT and
 * SCEN_PAGE_SWAPPED that the page state needs, which may cost the
 * executor more to read), or -1 if the executor cannot tell,
 * no_page_state saying why (the executor may set it in the call).  efault is the code read returns
 * where the memory faults, esigbus where the access raised SIGBUS (never 0); failed says whether
 * a code means the reading itself failed (out of memory, an I/O error), which says nothing about
 * the data: verdict error, not the check's; strerror words a code. */
struct scen_check_io {
	int (*read)(void *arg, int i, unsigned long at, unsigned char *buf, unsigned long n);
	int (*fill)(void *arg, const struct scen_value *v, unsigned long at, unsigned char *buf,
		    unsigned long n);
	int (*page)(void *arg, unsigned long at, int want);
	bool (*failed)(int err);
	const char *(*strerror)(int err, char *buf, size_t len);
	const char *no_page_state;
	int efault;
	int esigbus;
	void *arg;
};
/* What a check or a require found: it held (a check counts), it failed
 * (verdict: the check's), an error (verdict "error"), or the run is
 * skipped (verdict "skip": a require that does not hold, or a page state
 * the executor cannot read).  msg is worded "check VERDICT ... failed:
 * ...", without the "FILE:LINE:COL: " an executor puts before it. */
enum scen_outcome { SCEN_HELD, SCEN_FAILED, SCEN_ERROR, SCEN_SKIPPED };
struct scen_finding {
	enum scen_outcome out;
	const char *verdict;
	char msg[1024];
};
void scen_judge(const struct scenario *s, const struct scen_op *op, const struct scen_check_io *io,
		struct scen_finding *f);
/* An access that is not a check (write, read) against its sigbus
 * expectation (scen_op_sigbus), judged and worded once for both
 * executors: err is 0 (the access ran to its end) or the code that
 * stopped it, esigbus the executor's code for SIGBUS (never 0), errtext
 * err's wording.  SCEN_HELD where it did what the scenario says (ran
 * through, or raised an expected SIGBUS), else SCEN_ERROR with the
 * message ("write failed: ..." as an executor words a failed operation,
 * "... raised SIGBUS ...", "... expected SIGBUS, the access
 * succeeded"). */
void scen_judge_access(const struct scenario *s, const struct scen_op *op, int err, int esigbus,
		       const char *errtext, struct scen_finding *f);
/* The name of what range g reads: a mapping's, file's, pin's or pipe's. */
const char *scen_range_name(const struct scenario *s, const struct scen_range *g);
/* The bytes a byte or string value holds at [at, at + n) of the range it
 * goes with (a file value's bytes are the interpreter's to read). */
void scen_value_bytes(const struct scen_value *v, unsigned long at, unsigned char *buf,
		      unsigned long n);

/* The verdicts an expect line takes, nr_out of them: "pass", the check
 * verdicts (corrupt, leak, desync, overwrite), and crash and error, which
 * the explorer reports for a broken invariant and a failed operation. */
const char *const *scen_expect_verdicts(int *nr_out);
/* The verdict s's expect lines document under preset ("pass" or a
 * failure verdict), or NULL if no expect line names preset. */
const char *scen_expected(const struct scenario *s, const char *preset);

/* Check the invariants of a parsed scenario (indices, spaces and bounds,
 * groups taking the threads in order, no operation after a process's exit,
 * direct I/O alignment, pins and pipes made once in order and used only
 * while they live, file mappings within their file and no mapped file
 * used by direct I/O, distinct names, the counts); 0, COW_ENOMEM, or
 * COW_ECORRUPT with the first broken one in msg.  The tests
 * and the fuzz target check every scenario the parser returns. */
int scen_check(const struct scenario *s, char *msg, size_t len);

#endif /* COW_SCENARIO_H */
