/*
 * pdfx.cc: the finishing step (pdfx.h), with qpdf's C++ library. qpdf's C API (qpdf-c.h) can
 * open, edit objects and write, but it has no content-stream token filter, and rewriting the
 * colour operators is the point of this module; so this one file is C++, C at its boundary.
 */
#include "pdfx.h"

#include <lcms2.h>
#include <openssl/evp.h>
#include <qpdf/Pipeline.hh>
#include <qpdf/Pl_Buffer.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFExc.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>
#include <qpdf/QPDFPageObjectHelper.hh>
#include <qpdf/QPDFSystemError.hh>
#include <qpdf/QPDFWriter.hh>
#include <qpdf/QUtil.hh>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace
{

/* Whether s is the literal lit: the length first, since most operators are not. A chain of
 * std::string == const char* comparisons per operator was ~3% of the render stage's
 * instructions (callgrind). */
template <size_t N> bool is(const std::string &s, const char (&lit)[N])
{
	return s.size() == N - 1 && memcmp(s.data(), lit, N - 1) == 0;
}

/* What the token filters found that cannot be made gray; the first is reported. */
struct findings {
	std::string refused;
	void refuse(const std::string &what)
	{
		if (refused.empty())
			refused = what;
	}
};

std::string gray_number(double v)
{
	if (v <= 0)
		return "0";
	if (v >= 1)
		return "1";
	char b[16];
	snprintf(b, sizeof b, "%.4f", v);
	size_t n = strlen(b);
	while (n > 0 && b[n - 1] == '0')
		b[--n] = '\0';
	return b;
}

/* A page's small image masks (the QR codes, the customer barcode) as inline images, by
 * resource name, and the names the page still draws with Do. */
struct inline_masks {
	std::map<std::string, std::string> image; /* "/x21" -> "BI ... EI" */
	std::set<std::string> kept;
	std::set<std::string> marks;                       /* the placeholders' names (struct pdfx_mask) */
	const pdfx_mask *next = nullptr, *end = nullptr;   /* the masks they stand for, not yet drawn */
	std::vector<std::pair<long, std::string>> defined; /* a form placeholder's number, its form's name */
};

/* An image mask's bits (rows of whole bytes) as an inline image in ASCIIHex. */
std::string inline_mask(long long width, long long height, const unsigned char *b, const std::string &extra)
{
	std::string bi = "BI /IM true /W " + std::to_string(width) + " /H " + std::to_string(height) + " /BPC 1" +
	                 extra + " /F /AHx ID ";
	static const char hex[] = "0123456789abcdef";
	long long size = (width + 7) / 8 * height;
	bi.reserve(bi.size() + 2 * static_cast<size_t>(size) + 5);
	for (long long i = 0; i < size; i++) {
		bi += hex[b[i] >> 4];
		bi += hex[b[i] & 15];
	}
	return bi + "> EI";
}

/* The start of a page that paints its static layers (struct pdfx_page): the content up to and
 * including its want-th Do, the resource names it uses renamed to /kg + their name, so that a
 * later page can draw it in front of its own content with the same resources. */
struct layer_prefix {
	int want = 0, seen = 0, depth = 0; /* Do operators to take; taken; q minus Q */
	bool done = false;
	std::string text;
	std::vector<std::pair<size_t, std::string>> names;     /* where a name starts in the output, its category */
	std::vector<std::pair<std::string, std::string>> used; /* category and name, as found */
};

/* Content-stream tokens, as far as the gray filter tells them apart (ISO 32000-1 7.2, 7.8.2). */
enum class tok { number, space, word, name, inline_image, other };

bool pdf_space(unsigned char c)
{
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

bool pdf_delimiter(unsigned char c)
{
	return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == '{' || c == '}' ||
	       c == '/' || c == '%';
}

/* A regular token that is a number: a sign, then digits with at most one point. */
bool pdf_number(const char *p, size_t n)
{
	size_t i = n && (*p == '+' || *p == '-'), digits = 0, points = 0;
	for (; i < n; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			digits++;
		else if (p[i] == '.' && !points)
			points++;
		else
			return false;
	}
	return digits > 0;
}

/* A name's value as qpdf spells it ("/x21"): #xx escapes decoded. */
std::string pdf_name(const char *p, size_t n)
{
	std::string v;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '#' && i + 2 < n && isxdigit((unsigned char)p[i + 1]) &&
		    isxdigit((unsigned char)p[i + 2])) {
			char hex[3] = {p[i + 1], p[i + 2], 0};
			v += (char)strtol(hex, nullptr, 16);
			i += 2;
		} else {
			v += p[i];
		}
	}
	return v;
}

/*
 * Rewrites a content stream's colour operators to DeviceGray, as a qpdf pipeline: the stream
 * comes in whole (write), is cut into tokens and goes on to the next pipeline (finish). Up to
 * four numbers (and the white space between them) are held until the operator that takes them
 * arrives: rg/RG and k/K with their operands become one g/G; everything else passes through
 * unchanged, byte for byte. Output is gathered into large writes: qpdf hands each write to its
 * deflater, and one deflate call per token cost more than the tokenizing (measured: 0.6 s of
 * 1.2 s for a file of 999 pages).
 *
 * The tokens are cut here, not by qpdf's tokenizer (QPDFObjectHandle::TokenFilter): that one
 * makes every token an object with copies of its text, a tenth of the render stage's
 * instructions (callgrind) for content that only needs to be told apart at the level above:
 * white space, comments, strings (with their nesting and escapes), hex strings, names,
 * delimiters, numbers and operators. An inline image (ID) is refused, as before: its data
 * would need the image's dictionary to be skipped safely, and cairo writes none.
 */
class gray_filter : public Pipeline
{
      public:
	gray_filter(Pipeline *to, std::shared_ptr<findings> f, std::string w, inline_masks *m = nullptr,
	            layer_prefix *p = nullptr)
	    : Pipeline("kigen gray filter", to), found(std::move(f)), where(std::move(w)), masks(m), pre(p)
	{
	}

	/* A filter with its own copy of a page's masks, its output starting with prefix (an
	 * earlier page's static layers). */
	gray_filter(Pipeline *to, std::shared_ptr<findings> f, std::string w, const inline_masks &m, std::string prefix)
	    : Pipeline("kigen gray filter", to), found(std::move(f)), where(std::move(w)), out(std::move(prefix)),
	      own(m), masks(&own), pre(nullptr)
	{
	}

	void write(unsigned char const *data, size_t len) override
	{
		in.append(reinterpret_cast<const char *>(data), len);
	}

	void finish() override
	{
		scan();
		if (pre && !pre->done && pre->want > 0)
			found->refuse(where + ": fewer static layers than expected");
		if (masks && masks->next != masks->end)
			found->refuse(where + ": fewer placeholders than stencils");
		flush();
		emit();
		in.clear();
		getNext()->finish();
	}

      private:
	std::string in; /* the whole stream */

	void scan()
	{
		const char *s = in.data();
		size_t size = in.size(), i = 0;
		while (i < size) {
			size_t start = i;
			unsigned char c = (unsigned char)s[i];
			tok type = tok::other;
			if (pdf_space(c)) {
				while (i < size && pdf_space((unsigned char)s[i]))
					i++;
				type = tok::space;
			} else if (c == '%') {
				while (i < size && s[i] != '\r' && s[i] != '\n')
					i++;
			} else if (c == '(') {
				for (int depth = 0; i < size; i++) {
					if (s[i] == '\\')
						i++;
					else if (s[i] == '(')
						depth++;
					else if (s[i] == ')' && --depth == 0)
						break;
				}
				i = i < size ? i + 1 : size;
			} else if (c == '<' || c == '>') {
				size_t end = in.find('>', i); /* of a hex string */
				if (i + 1 < size && s[i + 1] == (char)c)
					i += 2; /* << or >> */
				else if (c == '>')
					i++;
				else
					i = end == std::string::npos ? size : end + 1;
			} else if (c == '/') {
				for (i++; i < size && !pdf_space((unsigned char)s[i]) &&
				          !pdf_delimiter((unsigned char)s[i]);)
					i++;
				type = tok::name;
			} else if (pdf_delimiter(c)) {
				i++; /* [ ] { } ) */
			} else {
				while (i < size && !pdf_space((unsigned char)s[i]) &&
				       !pdf_delimiter((unsigned char)s[i]))
					i++;
				size_t len = i - start;
				if (pdf_number(s + start, len))
					type = tok::number;
				else if (len == 2 && s[start] == 'I' && s[start + 1] == 'D')
					type = tok::inline_image, i = size; /* the rest goes on unread */
				else if (!((len == 4 &&
				            (!memcmp(s + start, "true", 4) || !memcmp(s + start, "null", 4))) ||
				           (len == 5 && !memcmp(s + start, "false", 5))))
					type = tok::word;
			}
			token(type, s + start, i - start);
		}
	}

	void token(tok type, const char *p, size_t len)
	{
		switch (type) {
		case tok::number:
			if (n == 4)
				flush();
			if (n == 0)
				lead = held.size();
			held.append(p, len);
			number[n++].assign(p, len);
			return;
		case tok::space: (n ? held : out).append(p, len); return;
		case tok::word:
			word(std::string(p, len)); /* writes the operator, or its gray replacement */
			spill();
			return;
		case tok::name:
			flush();
			last_name = pdf_name(p, len);
			name_at = out.size();
			break;
		case tok::inline_image:
			flush();
			found->refuse(where + ": an inline image");
			break;
		case tok::other: flush(); break;
		}
		out.append(p, len);
		spill();
	}

	void emit()
	{
		if (!out.empty())
			getNext()->write(reinterpret_cast<const unsigned char *>(out.data()), out.size());
		out.clear();
	}

      private:
	std::shared_ptr<findings> found;
	std::string where;
	std::string out;        /* not yet handed on */
	std::string held;       /* the held numbers as written, with the space between them */
	std::string number[4];  /* the held numbers' values */
	size_t n = 0, lead = 0; /* how many; where the first starts in held */
	std::string last_name;
	inline_masks own; /* the masks of a filter that runs while qpdf writes */
	inline_masks *masks;
	layer_prefix *pre;
	size_t name_at = std::string::npos; /* where last_name starts in out, if still there */
	std::string last_do;                /* the XObject the last Do kept drew */

	void spill()
	{
		if (out.size() >= 65536 && (!pre || pre->done || pre->want == 0)) {
			emit();
			name_at = std::string::npos;
		}
	}

	/* "/x21 Do" of a mask in masks becomes the inline image; true when done. */
	bool inline_image()
	{
		if (!masks)
			return false;
		auto it = masks->image.find(last_name);
		bool mark = masks->marks.count(last_name) > 0;
		if (!mark && it == masks->image.end())
			return false;
		/* out ends with the name as written (cairo's names need no #-escapes) and white space. */
		if (name_at == std::string::npos || out.compare(name_at, last_name.size(), last_name) != 0 ||
		    out.find_first_not_of(" \t\r\n", name_at + last_name.size()) != std::string::npos) {
			if (mark)
				found->refuse(where + ": a placeholder's name was not found");
			masks->kept.insert(last_name);
			return false;
		}
		out.resize(name_at);
		if (!mark) {
			out += it->second;
		} else if (masks->next == masks->end) {
			found->refuse(where + ": more placeholders than stencils");
		} else if (masks->next->form > 0) {
			if (!masks->next->first)
				out += "Q q /kgf" + std::to_string(masks->next->form) + " Do";
			else if (last_do.empty())
				found->refuse(where + ": a form's placeholder before any form");
			else
				masks->defined.emplace_back(masks->next->form, last_do);
			masks->next++;
		} else {
			/* cairo writes A1 masks with /Decode [1 0] (1 paints, as in pdfx_mask); qpdf's
			 * unparse of that array, as small_masks() copies it, is "[ 1 0 ]". */
			out += inline_mask(masks->next->width, masks->next->height, masks->next->bits, " /D [ 1 0 ]");
			masks->next++;
		}
		return true;
	}

	void flush()
	{
		out += held;
		held.clear();
		n = 0;
	}

	double value(size_t i) const
	{
		return strtod(number[i].c_str(), nullptr);
	}

	/* Replaces the held numbers with one gray operand (the operator follows). */
	void gray(const std::string &v)
	{
		out.append(held, 0, lead);
		out += v;
		out += ' ';
		held.clear();
		n = 0;
	}

	void word(const std::string &op)
	{
		bool fill = is(op, "rg") || is(op, "k"), stroke = is(op, "RG") || is(op, "K");
		if ((fill || stroke) && n == (op.size() == 2 ? 3u : 4u)) {
			if (n == 3 && number[0] == number[1] && number[1] == number[2])
				gray(number[0]); /* a neutral colour keeps its exact value */
			else if (n == 3)
				gray(gray_number(0.30 * value(0) + 0.59 * value(1) + 0.11 * value(2)));
			else
				gray(gray_number(1.0 -
				                 (0.30 * value(0) + 0.59 * value(1) + 0.11 * value(2) + value(3))));
			out += stroke ? "G" : "g";
			return;
		}
		size_t operands = n;
		flush();
		if (fill || stroke)
			found->refuse(where + ": " + op + " with " + std::to_string(operands) + " operands");
		else if ((is(op, "cs") || is(op, "CS")) && last_name != "/DeviceGray")
			found->refuse(where + ": colour space " + last_name);
		else if ((is(op, "sc") || is(op, "SC") || is(op, "scn") || is(op, "SCN")) && operands != 1)
			found->refuse(where + ": " + op + " with " + std::to_string(operands) + " components");
		else if (is(op, "sh"))
			found->refuse(where + ": a shading");
		else if (is(op, "Do") && inline_image())
			return;
		else if (is(op, "Do"))
			last_do = last_name;
		out += op;
		if (pre && !pre->done && pre->want > 0)
			take(op);
	}

	/* The layers' prefix, operator by operator: gs and Do name resources, kept to be renamed;
	 * any other operator naming one (a font, a pattern) has no place before the layers. */
	void take(const std::string &op)
	{
		if ((is(op, "q") || is(op, "Q")) && (pre->depth += is(op, "q") ? 1 : -1) < 0) {
			found->refuse(where + ": Q without q before the static layers");
			pre->done = true;
			return;
		}
		if (is(op, "gs") || is(op, "Do")) {
			if (name_at == std::string::npos) {
				found->refuse(where + ": a static layer's resource name was not found");
				pre->done = true;
				return;
			}
			pre->names.emplace_back(name_at, is(op, "gs") ? "/ExtGState" : "/XObject");
			pre->used.emplace_back(is(op, "gs") ? "/ExtGState" : "/XObject", last_name);
		} else if (is(op, "Tf") || is(op, "sh") || is(op, "scn") || is(op, "SCN") || is(op, "BDC") ||
		           is(op, "DP") || is(op, "BI")) {
			found->refuse(where + ": " + op + " before the static layers");
			pre->done = true;
			return;
		}
		if (!is(op, "Do") || ++pre->seen < pre->want)
			return;
		pre->text = out;
		for (auto it = pre->names.rbegin(); it != pre->names.rend(); ++it)
			pre->text.insert(it->first + 1, "kg");
		for (int i = 0; i < pre->depth; i++)
			pre->text += " Q";
		pre->done = true;
	}
};

/* qpdf's output into a stdio stream, flushed at the end, keeping the system's reason of the
 * first failure (a full disk): through a plain FILE, stdio's buffering would report it only
 * later, without the reason. It never throws: qpdf also finishes pipelines from destructors. */
class file_pipeline : public Pipeline
{
      public:
	explicit file_pipeline(FILE *f) : Pipeline("kigen output", nullptr), fp(f)
	{
	}
	void write(unsigned char const *data, size_t len) override
	{
		if (!failed && len && fwrite(data, 1, len, fp) != len)
			failed = errno ? errno : EIO;
	}
	void finish() override
	{
		if (!failed && fflush(fp) != 0)
			failed = errno ? errno : EIO;
	}
	int failed = 0; /* errno of the first failure */

      private:
	FILE *fp;
};

bool is_name(QPDFObjectHandle o, const char *name)
{
	return o.isName() && o.getName() == name;
}

/* Whether content with these resources can use transparency (so its page needs its group).
 * forms remembers the answer for each form XObject: every page draws the same static layers,
 * and walking their resources again on each page was 1% of the render stage's instructions. */
bool uses_transparency(QPDFObjectHandle res, int depth, std::map<QPDFObjGen, bool> &forms)
{
	if (!res.isDictionary() || depth > 16)
		return false;
	QPDFObjectHandle gs = res.getKey("/ExtGState");
	if (gs.isDictionary()) {
		for (auto &k : gs.getKeys()) {
			QPDFObjectHandle g = gs.getKey(k);
			if (!g.isDictionary())
				continue;
			QPDFObjectHandle sm = g.getKey("/SMask"), bm = g.getKey("/BM");
			if (!sm.isNull() && !is_name(sm, "/None"))
				return true;
			for (const char *a : {"/ca", "/CA"})
				if (g.getKey(a).isNumber() && g.getKey(a).getNumericValue() < 1)
					return true;
			if (!bm.isNull() && !is_name(bm, "/Normal") && !is_name(bm, "/Compatible"))
				return true;
		}
	}
	QPDFObjectHandle xo = res.getKey("/XObject");
	if (xo.isDictionary()) {
		for (auto &k : xo.getKeys()) {
			QPDFObjectHandle x = xo.getKey(k);
			if (!x.isStream())
				continue;
			QPDFObjectHandle d = x.getDict();
			if (d.hasKey("/SMask") || d.hasKey("/Group"))
				return true;
			if (!is_name(d.getKey("/Subtype"), "/Form"))
				continue;
			auto known = forms.find(x.getObjGen());
			bool uses = known != forms.end() ? known->second
			                                 : uses_transparency(d.getKey("/Resources"), depth + 1, forms);
			if (x.isIndirect())
				forms[x.getObjGen()] = uses;
			if (uses)
				return true;
		}
	}
	return false;
}

/* A group of dict (a page or a form) blends in DeviceGray, or goes when drop is true. */
void gray_group(QPDFObjectHandle dict, bool drop)
{
	QPDFObjectHandle g = dict.getKey("/Group");
	if (!g.isDictionary())
		return;
	if (drop)
		dict.removeKey("/Group");
	else if (g.hasKey("/CS"))
		g.replaceKey("/CS", QPDFObjectHandle::newName("/DeviceGray"));
}

/* d, when it is direct and another page has the same, as the one indirect object both name. */
QPDFObjectHandle shared_dict(QPDF &pdf, QPDFObjectHandle d, std::map<std::string, QPDFObjectHandle> &shared)
{
	if (!d.isDictionary() || d.isIndirect())
		return d;
	std::string k = d.unparse();
	auto it = shared.find(k);
	if (it == shared.end())
		it = shared.emplace(std::move(k), pdf.makeIndirectObject(d.shallowCopy())).first;
	return it->second;
}

/*
 * A page's resources, and its font and graphics-state dictionaries, shared by the pages that
 * have the same. cairo gives every page its own copy of them (the same fonts, the same
 * /a0 << /CA 1 /ca 1 >>, the same static layers), and qpdf writes each page's copy into an object
 * stream a token at a time, each write a call of its deflater. A file of 500 sets has some
 * twenty different resource dictionaries for its ~1,900 pages.
 */
void share_resources(QPDF &pdf, QPDFObjectHandle page, std::map<std::string, QPDFObjectHandle> &shared)
{
	QPDFObjectHandle res = page.getKey("/Resources");
	if (!res.isDictionary() || res.isIndirect())
		return;
	for (const char *key : {"/Font", "/ExtGState"})
		if (res.hasKey(key))
			res.replaceKey(key, shared_dict(pdf, res.getKey(key), shared));
	page.replaceKey("/Resources", shared_dict(pdf, res, shared));
}

/* An 8-bit RGB image becomes an 8-bit gray one (same formula as the operators). */
void gray_image(QPDFObjectHandle image, findings &found, const std::string &where)
{
	QPDFObjectHandle d = image.getDict();
	if (d.getKey("/ImageMask").isBool() && d.getKey("/ImageMask").getBoolValue())
		return; /* a stencil: painted in the current (gray) fill colour */
	QPDFObjectHandle cs = d.getKey("/ColorSpace");
	if (is_name(cs, "/DeviceGray") || is_name(cs, "/CalGray"))
		return;
	if (!is_name(cs, "/DeviceRGB") || !d.getKey("/BitsPerComponent").isInteger() ||
	    d.getKey("/BitsPerComponent").getIntValue() != 8 || d.hasKey("/Decode")) {
		found.refuse(where + ": an image in colour space " + cs.unparse());
		return;
	}
	std::shared_ptr<Buffer> rgb = image.getStreamData(qpdf_dl_all);
	size_t n = rgb->getSize() / 3;
	const unsigned char *p = rgb->getBuffer();
	std::string gray(n, '\0');
	for (size_t i = 0; i < n; i++)
		gray[i] = (char)((30u * p[3 * i] + 59u * p[3 * i + 1] + 11u * p[3 * i + 2] + 50u) / 100u);
	image.replaceStreamData(gray, QPDFObjectHandle::newNull(), QPDFObjectHandle::newNull());
	d.replaceKey("/ColorSpace", QPDFObjectHandle::newName("/DeviceGray"));
}

/* The output intent's profile: a gray output ("prtr") profile made by Little CMS, D50 and
 * gamma 2.2, ICC 2.1 for the widest RIP support. Little CMS stamps the clock into the
 * header; a fixed date keeps the same input giving the same bytes. */
std::string gray_profile()
{
	static std::string icc;
	if (!icc.empty())
		return icc;
	cmsToneCurve *gamma = cmsBuildGamma(nullptr, 2.2);
	cmsHPROFILE p = gamma ? cmsCreateGrayProfile(cmsD50_xyY(), gamma) : nullptr;
	cmsFreeToneCurve(gamma);
	if (!p)
		return icc;
	cmsSetProfileVersion(p, 2.1);
	cmsSetDeviceClass(p, cmsSigOutputClass);
	cmsMLU *desc = cmsMLUalloc(nullptr, 1), *copy = cmsMLUalloc(nullptr, 1);
	cmsMLUsetASCII(desc, "en", "US", "kigen K only, gamma 2.2");
	cmsMLUsetASCII(copy, "en", "US", "No copyright, use freely");
	cmsWriteTag(p, cmsSigProfileDescriptionTag, desc);
	cmsWriteTag(p, cmsSigCopyrightTag, copy);
	cmsMLUfree(desc);
	cmsMLUfree(copy);
	cmsUInt32Number len = 0;
	if (cmsSaveProfileToMem(p, nullptr, &len) && len > 36) {
		std::string buf(len, '\0');
		if (cmsSaveProfileToMem(p, &buf[0], &len)) {
			static const unsigned char date[12] = {0x07, 0xe9, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0};
			memcpy(&buf[24], date, sizeof date); /* 2025-01-01 00:00:00 */
			icc = buf;
		}
	}
	cmsCloseProfile(p);
	return icc;
}

/* "D:20250331000000+09'00" as XMP's "2025-03-31T00:00:00+09:00" (empty when malformed). */
std::string xmp_date(const std::string &pdf)
{
	const char *s = pdf.c_str();
	if (strncmp(s, "D:", 2) == 0)
		s += 2;
	if (strlen(s) < 14)
		return "";
	for (int i = 0; i < 14; i++)
		if (s[i] < '0' || s[i] > '9')
			return "";
	std::string d(s, 4);
	d += "-" + std::string(s + 4, 2) + "-" + std::string(s + 6, 2) + "T" + std::string(s + 8, 2) + ":" +
	     std::string(s + 10, 2) + ":" + std::string(s + 12, 2);
	const char *z = s + 14;
	if (*z == 'Z')
		return d + "Z";
	if ((*z == '+' || *z == '-') && strlen(z) >= 3)
		return d + std::string(z, 3) + ":" + (strlen(z) >= 6 ? std::string(z + 4, 2) : std::string("00"));
	return d;
}

std::string xml_escape(const std::string &s)
{
	std::string o;
	for (char c : s) {
		switch (c) {
		case '&': o += "&amp;"; break;
		case '<': o += "&lt;"; break;
		case '>': o += "&gt;"; break;
		default: o += c;
		}
	}
	return o;
}

/* A UUID made of the SHA-256 of the input and a salt: deterministic, and different for
 * different files. The input's hash is computed once (base) and copied for each salt: hashing a
 * copy of the whole file for each of the two IDs was 3.6% of the render stage's CPU (perf). */
std::string uuid_of(const EVP_MD_CTX *base, unsigned char salt)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_MD_CTX_copy_ex(c, base) || !EVP_DigestUpdate(c, &salt, 1) || !EVP_DigestFinal_ex(c, md, &n) ||
	    n < 16) {
		EVP_MD_CTX_free(c);
		return "";
	}
	EVP_MD_CTX_free(c);
	md[6] = (md[6] & 0x0f) | 0x50; /* name-based, version 5 layout */
	md[8] = (md[8] & 0x3f) | 0x80;
	char out[48];
	snprintf(out, sizeof out, "uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0],
	         md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12], md[13], md[14],
	         md[15]);
	return out;
}

std::string info_text(QPDFObjectHandle info, const char *key)
{
	QPDFObjectHandle v = info.isDictionary() ? info.getKey(key) : QPDFObjectHandle::newNull();
	return v.isString() ? v.getUTF8Value() : "";
}

/* PDF/X-4 identification: output intent, XMP, /Trapped. */
void claim_x4(QPDF &pdf, const void *data, size_t len, std::string &problem)
{
	std::string icc = gray_profile();
	if (icc.empty()) {
		problem = "Little CMS could not make the gray profile";
		return;
	}
	QPDFObjectHandle root = pdf.getRoot();
	QPDFObjectHandle trailer = pdf.getTrailer();
	QPDFObjectHandle info = trailer.getKey("/Info");
	if (!info.isDictionary()) {
		info = pdf.makeIndirectObject(QPDFObjectHandle::newDictionary());
		trailer.replaceKey("/Info", info);
	}
	info.replaceKey("/Trapped", QPDFObjectHandle::newName("/False"));

	QPDFObjectHandle profile = QPDFObjectHandle::newStream(&pdf, icc);
	profile.getDict().replaceKey("/N", QPDFObjectHandle::newInteger(1));
	QPDFObjectHandle oi = QPDFObjectHandle::newDictionary();
	oi.replaceKey("/Type", QPDFObjectHandle::newName("/OutputIntent"));
	oi.replaceKey("/S", QPDFObjectHandle::newName("/GTS_PDFX"));
	oi.replaceKey("/OutputConditionIdentifier", QPDFObjectHandle::newString("Custom"));
	oi.replaceKey("/OutputCondition", QPDFObjectHandle::newString("K only (black ink alone)"));
	oi.replaceKey("/Info", QPDFObjectHandle::newString("kigen K only, gamma 2.2"));
	oi.replaceKey("/RegistryName", QPDFObjectHandle::newString("http://www.color.org"));
	oi.replaceKey("/DestOutputProfile", profile);
	root.replaceKey("/OutputIntents", QPDFObjectHandle::newArray({pdf.makeIndirectObject(oi)}));

	EVP_MD_CTX *hash = EVP_MD_CTX_new();
	if (!hash || !EVP_DigestInit_ex(hash, EVP_sha256(), nullptr) || !EVP_DigestUpdate(hash, data, len)) {
		EVP_MD_CTX_free(hash);
		problem = "OpenSSL could not hash the file";
		return;
	}
	std::string document = uuid_of(hash, 'D'), instance = uuid_of(hash, 'I');
	EVP_MD_CTX_free(hash);
	if (document.empty() || instance.empty()) {
		problem = "OpenSSL could not hash the file";
		return;
	}
	std::string created = xmp_date(info_text(info, "/CreationDate"));
	std::string modified = xmp_date(info_text(info, "/ModDate"));
	if (modified.empty())
		modified = created;
	std::string xmp = "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
	                  "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
	                  "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
	                  "<rdf:Description rdf:about=\"\"\n"
	                  " xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
	                  " xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n"
	                  " xmlns:pdf=\"http://ns.adobe.com/pdf/1.3/\"\n"
	                  " xmlns:xmpMM=\"http://ns.adobe.com/xap/1.0/mm/\"\n"
	                  " xmlns:pdfxid=\"http://www.npes.org/pdfx/ns/id/\">\n"
	                  "<dc:format>application/pdf</dc:format>\n"
	                  "<dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">" +
	                  xml_escape(info_text(info, "/Title")) +
	                  "</rdf:li></rdf:Alt></dc:title>\n"
	                  "<xmp:CreatorTool>" +
	                  xml_escape(info_text(info, "/Creator")) + "</xmp:CreatorTool>\n";
	if (!created.empty())
		xmp += "<xmp:CreateDate>" + created + "</xmp:CreateDate>\n<xmp:ModifyDate>" + modified +
		       "</xmp:ModifyDate>\n<xmp:MetadataDate>" + modified + "</xmp:MetadataDate>\n";
	xmp += "<pdf:Producer>" + xml_escape(info_text(info, "/Producer")) +
	       "</pdf:Producer>\n"
	       "<pdf:Trapped>False</pdf:Trapped>\n"
	       "<xmpMM:DocumentID>" +
	       document + "</xmpMM:DocumentID>\n<xmpMM:InstanceID>" + instance +
	       "</xmpMM:InstanceID>\n"
	       "<xmpMM:VersionID>1</xmpMM:VersionID>\n"
	       "<xmpMM:RenditionClass>default</xmpMM:RenditionClass>\n"
	       "<pdfxid:GTS_PDFXVersion>PDF/X-4</pdfxid:GTS_PDFXVersion>\n"
	       "</rdf:Description>\n</rdf:RDF>\n</x:xmpmeta>\n<?xpacket end=\"w\"?>";
	QPDFObjectHandle meta = QPDFObjectHandle::newStream(&pdf, xmp);
	meta.getDict().replaceKey("/Type", QPDFObjectHandle::newName("/Metadata"));
	meta.getDict().replaceKey("/Subtype", QPDFObjectHandle::newName("/XML"));
	root.replaceKey("/Metadata", meta);
}

/* The image masks among resources small enough to draw inline (ISO 32000 8.9.7 suggests inline
 * images up to 4 KB; these are the QR codes and the customer barcode, 50-200 bytes of bits): as
 * an XObject each cost a stream object, its dictionary, a resource entry and a cross-reference
 * entry, ~150 bytes for 60 bytes of bits (measured). The bits go in ASCIIHex: binary data
 * could hold "EI" and the content stream is deflated whole anyway. */
inline_masks small_masks(QPDFObjectHandle res, const pdfx_page *plan)
{
	inline_masks m;
	if (plan) {
		m.next = plan->masks;
		m.end = plan->masks + plan->n_masks;
	}
	QPDFObjectHandle xo = res.isDictionary() ? res.getKey("/XObject") : QPDFObjectHandle::newNull();
	if (!xo.isDictionary())
		return m;
	for (auto &k : xo.getKeys()) {
		QPDFObjectHandle x = xo.getKey(k);
		QPDFObjectHandle d = x.isStream() ? x.getDict() : QPDFObjectHandle::newDictionary();
		QPDFObjectHandle mask = d.getKey("/ImageMask"), w = d.getKey("/Width"), h = d.getKey("/Height");
		if (!is_name(d.getKey("/Subtype"), "/Image") || !mask.isBool() || !mask.getBoolValue() ||
		    !w.isInteger() || !h.isInteger() || d.hasKey("/SMask") || d.hasKey("/Mask"))
			continue;
		long long width = w.getIntValue(), height = h.getIntValue(), size = (width + 7) / 8 * height;
		if (width == 1 && height == 1 && plan && plan->n_masks) {
			m.marks.insert(k);
			continue;
		}
		if (width < 1 || height < 1 || size > 1024)
			continue;
		std::shared_ptr<Buffer> bits = x.getStreamData(qpdf_dl_all);
		if (bits->getSize() != static_cast<size_t>(size))
			continue;
		std::string extra;
		QPDFObjectHandle decode = d.getKey("/Decode"), interpolate = d.getKey("/Interpolate");
		if (decode.isArray())
			extra += " /D " + decode.unparse();
		if (interpolate.isBool() && interpolate.getBoolValue())
			extra += " /I true";
		m.image[k] = inline_mask(width, height, bits->getBuffer(), extra);
	}
	return m;
}

/* A page's content, gray, while qpdf writes it: its former content stream through a new
 * filter each time qpdf asks (it may ask twice), straight into qpdf's deflater. */
class gray_content : public QPDFObjectHandle::StreamDataProvider
{
      public:
	gray_content(QPDFObjectHandle from, std::shared_ptr<findings> f, std::string w, inline_masks m,
	             std::string prefix)
	    : source(std::move(from)), found(std::move(f)), where(std::move(w)), masks(std::move(m)),
	      first(std::move(prefix))
	{
	}

	void provideStreamData(QPDFObjGen const &, Pipeline *pipeline) override
	{
		gray_filter filter(pipeline, found, where, masks, first);
		bool attempted = false;
		if (!source.pipeStreamData(&filter, &attempted, 0, qpdf_dl_specialized) ||
		    (source.getDict().hasKey("/Filter") && !attempted))
			found->refuse(where + ": content that qpdf cannot decode");
	}

      private:
	QPDFObjectHandle source;
	std::shared_ptr<findings> found;
	std::string where;
	inline_masks masks;
	std::string first;
};

/* Makes the page's content gray while qpdf writes it (gray_content); false when the page has
 * no single content stream to take it from. */
bool gray_later(QPDF &pdf, QPDFObjectHandle page, std::shared_ptr<findings> found, const std::string &where,
                const inline_masks &masks, const std::string &prefix)
{
	QPDFObjectHandle from = page.getKey("/Contents");
	if (!from.isStream())
		return false;
	QPDFObjectHandle to = QPDFObjectHandle::newStream(&pdf);
	to.replaceStreamData(std::make_shared<gray_content>(from, found, where, masks, prefix),
	                     QPDFObjectHandle::newNull(), QPDFObjectHandle::newNull());
	page.replaceKey("/Contents", to);
	return true;
}

/* A page's static layers as a later page draws them (struct pdfx_page): the content to put
 * first, and the resources it names (category, name, object). */
struct layer_use {
	std::string text;
	std::vector<std::tuple<std::string, std::string, QPDFObjectHandle>> res;
};

/* The page's content through the gray filter; its small image masks drawn inline; the static
 * layers of an earlier page drawn first (plan->same_as), or its own kept for later pages. */
void finish_page(QPDF &pdf, QPDFPageObjectHelper &page, std::shared_ptr<findings> found, const std::string &where,
                 const pdfx_page *plan, std::vector<layer_use> &layers, size_t index,
                 std::map<long, QPDFObjectHandle> &forms)
{
	QPDFObjectHandle p = page.getObjectHandle(), res = page.getAttribute("/Resources", false);
	inline_masks masks = small_masks(res, plan);
	const layer_use *reuse = nullptr;
	layer_prefix pre;
	if (plan && plan->same_as >= 0) {
		if (static_cast<size_t>(plan->same_as) >= index) {
			found->refuse(where + ": static layers of a later page");
			return;
		}
		reuse = &layers[plan->same_as];
	} else if (plan) {
		pre.want = plan->layers;
	}
	if (masks.image.empty() && masks.marks.empty() && masks.next == masks.end && !reuse && pre.want == 0 &&
	    gray_later(pdf, p, found, where, masks, ""))
		return;
	/* The resources change first (below): then only a page whose static layers later pages
	 * reuse is filtered now, to take them; every other page is filtered while qpdf writes it,
	 * straight into its deflater. Filtering each page into a buffer and a new stream beforehand
	 * cost a copy of every page's content (and its memory). A mask that cairo wrote as an image
	 * (masks.image) is inlined only on that path, where a name not found keeps the image. */
	bool now = pre.want > 0 || !masks.image.empty() || !p.getKey("/Contents").isStream();
	for (const pdfx_mask *m = masks.next; m != masks.end; m++)
		now = now || (m->form > 0 && m->first); /* to learn the form's name */
	if (now) {
		Pl_Buffer content("page content");
		gray_filter filter(&content, found, where, &masks, &pre);
		page.pipeContents(&filter);
		std::shared_ptr<Buffer> b = content.getBufferSharedPointer();
		std::string text = reuse ? "q\n" + reuse->text + "\nQ\n" : "";
		text.append(reinterpret_cast<const char *>(b->getBuffer()), b->getSize());
		p.replaceKey("/Contents", QPDFObjectHandle::newStream(&pdf, text));
		QPDFObjectHandle xo = res.isDictionary() ? res.getKey("/XObject") : QPDFObjectHandle::newNull();
		for (auto &d : masks.defined) {
			QPDFObjectHandle f = xo.isDictionary() ? xo.getKey(d.second) : QPDFObjectHandle::newNull();
			if (f.isStream() && is_name(f.getDict().getKey("/Subtype"), "/Form"))
				forms[d.first] = f;
			else
				found->refuse(where + ": the form before a form's placeholder is not one");
		}
	}
	/* The inlined masks leave the page's resources, and the reused layers' join them, in a
	 * copy: resources may be shared. */
	QPDFObjectHandle copy = res.shallowCopy();
	if (!masks.image.empty() || !masks.marks.empty()) {
		QPDFObjectHandle xo = res.getKey("/XObject").shallowCopy();
		for (auto &m : masks.image)
			if (!masks.kept.count(m.first))
				xo.removeKey(m.first);
		for (auto &m : masks.marks)
			if (!masks.kept.count(m))
				xo.removeKey(m);
		/* The forms this page's placeholders stand for: named by an earlier page's. */
		for (const pdfx_mask *m = plan ? plan->masks : nullptr; m && m != plan->masks + plan->n_masks; m++) {
			auto f = forms.find(m->form);
			if (m->form > 0 && !m->first && f == forms.end())
				found->refuse(where + ": a form's placeholder before its form");
			else if (m->form > 0 && !m->first)
				xo.replaceKey("/kgf" + std::to_string(m->form), f->second);
		}
		copy.replaceKey("/XObject", xo);
	}
	if (reuse) {
		for (auto &r : reuse->res) {
			QPDFObjectHandle d = copy.getKey(std::get<0>(r));
			d = d.isDictionary() ? d.shallowCopy() : QPDFObjectHandle::newDictionary();
			d.replaceKey(std::get<1>(r), std::get<2>(r));
			copy.replaceKey(std::get<0>(r), d);
		}
	}
	p.replaceKey("/Resources", copy);
	if (!now) {
		gray_later(pdf, p, found, where, masks, reuse ? "q\n" + reuse->text + "\nQ\n" : "");
		return;
	}
	if (pre.done && pre.want > 0) {
		layer_use &use = layers[index];
		use.text = pre.text;
		for (auto &u : pre.used) {
			QPDFObjectHandle d = res.getKey(u.first), o = d.isDictionary() ? d.getKey(u.second) : d;
			if (!d.isDictionary() || o.isNull()) {
				found->refuse(where + ": static layer resource " + u.second + " not found");
				return;
			}
			use.res.emplace_back(u.first, "/kg" + u.second.substr(1), o.isIndirect() ? o : o.shallowCopy());
		}
	}
}

enum kg_err finish(const void *data, size_t len, enum pdfx_level level, const pdfx_page *plan, size_t n_plan, FILE *out,
                   const char *what)
{
	QPDF pdf;
	pdf.setSuppressWarnings(true);
	pdf.processMemoryFile(what, static_cast<const char *>(data), len);
	auto found = std::make_shared<findings>();

	/* Forms and images, wherever they are used. From the cross-reference table, not
	 * getAllObjects(), which first walks every object's references looking for dangling ones
	 * (8% of the render stage's CPU, perf); cairo's files have none, and the writer resolves
	 * each object once either way. */
	for (auto &entry : pdf.getXRefTable()) {
		QPDFObjectHandle o = pdf.getObject(entry.first);
		if (!o.isStream())
			continue;
		QPDFObjectHandle d = o.getDict();
		if (is_name(d.getKey("/Subtype"), "/Form")) {
			std::string where = "object " + o.getObjGen().unparse(' ');
			Pl_Buffer content("form content");
			gray_filter filter(&content, found, where);
			bool attempted = false;
			if (!o.pipeStreamData(&filter, &attempted, 0, qpdf_dl_specialized) ||
			    (d.hasKey("/Filter") && !attempted))
				found->refuse(where + ": content that qpdf cannot decode");
			else
				o.replaceStreamData(content.getBufferSharedPointer(), QPDFObjectHandle::newNull(),
				                    QPDFObjectHandle::newNull());
			gray_group(d, false);
		} else if (is_name(d.getKey("/Subtype"), "/Image")) {
			gray_image(o, *found, "object " + o.getObjGen().unparse(' '));
		}
	}
	std::vector<QPDFPageObjectHelper> pages = QPDFPageDocumentHelper(pdf).getAllPages();
	if (plan && n_plan != pages.size())
		return kg_fail(KG_ERENDER, "%s: %zu pages, %zu planned", what, pages.size(), n_plan);
	std::vector<layer_use> layers(plan ? pages.size() : 0);
	std::map<QPDFObjGen, bool> forms, groups; /* whether a form, a resource dictionary uses transparency */
	std::map<std::string, QPDFObjectHandle> shared;
	std::map<long, QPDFObjectHandle> by_number; /* forms that placeholders stand for */
	size_t no = 0;
	for (QPDFPageObjectHelper &page : pages) {
		QPDFObjectHandle p = page.getObjectHandle();
		std::string where = "page " + std::to_string(no + 1);
		finish_page(pdf, page, found, where, plan ? &plan[no] : nullptr, layers, no, by_number);
		no++;
		/* Shared first: a resource dictionary that many pages share is looked through once. */
		share_resources(pdf, p, shared);
		QPDFObjectHandle res = page.getAttribute("/Resources", false);
		auto known = res.isIndirect() ? groups.find(res.getObjGen()) : groups.end();
		bool uses = known != groups.end() ? known->second : uses_transparency(res, 0, forms);
		if (res.isIndirect())
			groups[res.getObjGen()] = uses;
		gray_group(p, !uses);
		QPDFObjectHandle media = page.getAttribute("/MediaBox", false);
		if (!media.isRectangle())
			return kg_fail(KG_ERENDER, "%s: %s has no MediaBox", what, where.c_str());
		p.replaceKey("/TrimBox", QPDFObjectHandle::newFromRectangle(media.getArrayAsRectangle()));
	}
	std::string problem;
	if (level == PDFX_X4)
		claim_x4(pdf, data, len, problem);
	if (!problem.empty())
		return kg_fail(KG_ERENDER, "%s: %s", what, problem.c_str());

	QPDFWriter w(pdf);
	file_pipeline sink(out);
	w.setOutputPipeline(&sink);
	w.setObjectStreamMode(qpdf_o_generate);
	w.setDeterministicID(true);
	if (level == PDFX_X4)
		w.setMinimumPDFVersion("1.6");
	w.write();
	if (sink.failed)
		return kg_fail(KG_EIO, "%s: %s", what, strerror(sink.failed));
	if (!found->refused.empty())
		return kg_fail(KG_ERENDER, "%s: not gray: %s", what, found->refused.c_str());
	if (pdf.anyWarnings())
		return kg_fail(KG_ERENDER, "%s: qpdf: %s", what, pdf.getWarnings().front().what());
	return KG_OK;
}

} // namespace

extern "C" enum kg_err pdfx_level_parse(const char *value, enum pdfx_level *out)
{
	if (!value || !*value || !strcmp(value, "none"))
		*out = PDFX_NONE;
	else if (!strcmp(value, "x4"))
		*out = PDFX_X4;
	else
		return kg_fail(KG_EINPUT, "output.pdfx: \"%s\" is neither none nor x4", value);
	return KG_OK;
}

extern "C" enum kg_err pdfx_finish(const void *pdf, size_t len, enum pdfx_level level, const struct pdfx_page *pages,
                                   size_t n_pages, FILE *out, const char *what)
{
	try {
		return finish(pdf, len, level, pages, n_pages, out, what);
	} catch (QPDFSystemError &e) {
		return kg_fail(KG_EIO, "%s: %s", what, e.what());
	} catch (std::bad_alloc &) {
		return kg_fail(KG_ENOMEM, "%s: out of memory", what);
	} catch (std::exception &e) {
		return kg_fail(KG_ERENDER, "%s: qpdf: %s", what, e.what());
	}
}
