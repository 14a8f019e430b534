"""Word lists of the demo generator: companies, people, titles, sizes, industries, sources, pages."""

from __future__ import annotations

# (Japanese stem, romaji for the e-mail domain)
JA_COMPANY_STEMS = [
    ("サクラ", "sakura"), ("アオバ", "aoba"), ("ミドリ", "midori"), ("ヤマト", "yamato"), ("ひかり", "hikari"),
    ("東都", "toto"), ("北斗", "hokuto"), ("みらい", "mirai"), ("エムテック", "mtech"), ("テクノ", "techno"),
    ("グローバル", "global"), ("ネクスト", "next"), ("関西", "kansai"), ("中部", "chubu"), ("湘南", "shonan"),
    ("富士", "fuji"), ("瀬戸内", "setouchi"), ("若葉", "wakaba"), ("丸の内", "marunouchi"), ("さくら野", "sakurano"),
]
# (Japanese kind, romaji, industry class) — the kind of company decides its industry.
JA_COMPANY_KINDS = [
    ("システムズ", "systems", "it"), ("ソリューションズ", "solutions", "it"), ("ソフト", "soft", "it"),
    ("データ", "data", "it"), ("ネットワークス", "networks", "it"), ("工業", "kogyo", "mfg"),
    ("製作所", "seisakusho", "mfg"), ("電機", "denki", "mfg"), ("化学", "kagaku", "mfg"), ("精機", "seiki", "mfg"),
    ("商事", "shoji", "trade"), ("物産", "bussan", "trade"), ("フーズ", "foods", "retail"), ("ストア", "store", "retail"),
    ("銀行", "bank", "finance"), ("証券", "securities", "finance"), ("物流", "logistics", "other"),
    ("建設", "kensetsu", "other"), ("不動産", "fudosan", "other"), ("ホールディングス", "hd", "other"),
]
EN_COMPANY_STEMS = ["Acme", "Globex", "Initech", "Northwind", "Bluefin", "Summit", "Vertex", "Pioneer", "Crescent",
                    "Atlas", "Horizon", "Evergreen", "Lumen", "Redwood"]
EN_COMPANY_KINDS = [
    ("Software", "it"), ("Analytics", "it"), ("Cloud", "it"), ("Labs", "it"), ("Robotics", "mfg"),
    ("Manufacturing", "mfg"), ("Industries", "mfg"), ("Retail", "retail"), ("Capital", "finance"),
    ("Foods", "retail"), ("Logistics", "other"), ("Media", "other"),
]
EN_COMPANY_SUFFIXES = ["Inc.", "Corp.", "Ltd.", "LLC", "K.K.", "Co., Ltd."]

# Industry names as exports write them, by class.
INDUSTRIES = {
    "it": ["IT・ソフトウェア", "IT・ソフトウェア", "情報通信", "ソフトウェア", "SaaS", "Software", "IT Services"],
    "mfg": ["製造業", "製造業", "製造", "Manufacturing"],
    "trade": ["卸売", "商社", "Wholesale"],
    "retail": ["小売", "小売・流通", "食品", "Retail"],
    "finance": ["金融", "金融・保険", "Finance"],
    "other": ["物流", "建設", "不動産", "サービス", "Logistics", ""],
}

# (kanji, romaji)
JA_LAST_NAMES = [
    ("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"), ("伊藤", "ito"),
    ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura"), ("小林", "kobayashi"), ("加藤", "kato"),
    ("吉田", "yoshida"), ("山田", "yamada"), ("佐々木", "sasaki"), ("山口", "yamaguchi"), ("松本", "matsumoto"),
    ("井上", "inoue"), ("木村", "kimura"), ("林", "hayashi"), ("斎藤", "saito"), ("清水", "shimizu"),
]
JA_FIRST_NAMES = [
    ("太郎", "taro"), ("花子", "hanako"), ("健太", "kenta"), ("美咲", "misaki"), ("翔太", "shota"),
    ("陽子", "yoko"), ("大輔", "daisuke"), ("彩", "aya"), ("拓也", "takuya"), ("真由美", "mayumi"),
    ("直樹", "naoki"), ("恵", "megumi"), ("誠", "makoto"), ("裕子", "yuko"), ("亮", "ryo"), ("奈々", "nana"),
]
EN_FIRST_NAMES = ["John", "Emily", "Michael", "Sarah", "David", "Jessica", "Daniel", "Laura", "Chris", "Anna",
                  "Kevin", "Rachel"]
EN_LAST_NAMES = ["Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Taylor", "Clark", "Lewis", "Walker",
                 "Young", "Hall"]

# Titles by the sheet's title groups ("none": matches no title row), each with the departments it
# sits in ("" : none given, as for a president). Japanese people get Japanese titles, others English.
# Avoid ambiguous ones ("Director" holds "cto"; teams band "課長", "Engineer", "Analyst" differently).
TITLES_JA: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "exec": [("代表取締役", ("",)), ("代表取締役社長", ("",)), ("取締役", ("", "経営企画部")),
             ("執行役員", ("営業本部", "マーケティング本部", "経営企画部")), ("取締役 営業本部長", ("営業本部",)),
             ("CTO", ("技術本部", "開発部"))],
    "manager": [("営業部長", ("営業部",)), ("マーケティング部長", ("マーケティング部",)),
                ("情報システム部長", ("情報システム部",)), ("部長", ("総務部", "経営企画部", "開発部")),
                ("マネージャー", ("インサイドセールス部", "マーケティング部")), ("営業マネージャー", ("営業部",))],
    "staff": [("営業担当", ("営業部",)), ("マーケティング担当", ("マーケティング部",)),
              ("情報システム担当", ("情報システム部",)), ("担当", ("総務部", "経営企画部")),
              ("スタッフ", ("インサイドセールス部", "総務部"))],
    "none": [("研究員", ("研究開発部",)), ("顧問", ("",)), ("", ("総務部", "営業部", ""))],
}
TITLES_EN: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "exec": [("CEO", ("",)), ("CTO", ("Engineering",)), ("CEO & Co-Founder", ("",))],
    "manager": [("Marketing Manager", ("Marketing",)), ("Sales Manager", ("Sales",)), ("IT Manager", ("IT",))],
    "staff": [("Marketing Staff", ("Marketing",)), ("Sales Staff", ("Sales",)), ("IT Staff", ("IT",))],
    "none": [("Researcher", ("R&D",)), ("", ("Sales", ""))],
}

# Employee counts as people type them, by the sheet's size bands (lower bounds 500 / 100 / 50).
EMPLOYEES = {
    "500+": ["1,000人以上", "500名以上", "5000", "1万人以上", "3,000名", "1000-4999", "１，０００人以上"],
    "100-499": ["100～499名", "100-499", "300", "約200名", "250人", "１００～４９９名"],
    "50-99": ["50-99", "50～99名", "80", "60名"],
    "small": ["10-49名", "30", "1～9名", "20人", "不明", ""],
}

# Lead sources by canonical code (leadsync.core.normalize.LEAD_SOURCES), with weights; the export
# writes the Japanese label for Japanese companies and the English one for the others.
LEAD_SOURCES = {"trade_show": 3, "seminar": 2, "webinar": 3, "web_inquiry": 3, "content_download": 4,
                "advertising": 2, "referral": 1, "organic_search": 2}
# CRM statuses; "不適格" is one of handoff.rejected_statuses (a lead sales turned down).
STATUSES = ["新規", "新規", "新規", "対応中", "ナーチャリング", "ナーチャリング"]
REJECTED_STATUS = "不適格"
OWNERS = ["sato", "suzuki", "tanaka"]

SITE = "https://www.leadsync.example"
PRICING_PAGES = [f"{SITE}/pricing", f"{SITE}/pricing?tier=enterprise", f"{SITE}/pricing#compare"]
# Pages that match none of the default pricing-page patterns.
PAGES = [f"{SITE}/", f"{SITE}/product", f"{SITE}/features/scoring", f"{SITE}/features/handoff",
         f"{SITE}/case-studies/manufacturing", f"{SITE}/case-studies/saas", f"{SITE}/blog/lead-scoring-basics",
         f"{SITE}/blog/inside-sales-kpi", f"{SITE}/blog/ma-sfa-integration", f"{SITE}/company"]
CLICK_PAGES = [f"{SITE}/lp/newsletter", f"{SITE}/lp/scoring-guide", f"{SITE}/lp/webinar-invite", f"{SITE}/blog/bantch"]
DOWNLOADS = [f"{SITE}/resources/whitepaper-lead-scoring.pdf", f"{SITE}/resources/case-study-manufacturing.pdf",
             f"{SITE}/resources/mql-handoff-checklist.pdf", f"{SITE}/resources/is-kpi-template.xlsx"]
WEBINARS = [f"{SITE}/webinar/scoring-101", f"{SITE}/webinar/is-kpi", f"{SITE}/webinar/ma-sfa"]
FORMS = [f"{SITE}/contact", f"{SITE}/demo-request"]
CALL_OUTCOMES = [("不在", 0, 0), ("受付ブロック", 15, 60), ("接続", 60, 119), ("有効会話", 120, 600), ("アポ獲得", 300, 900)]
