//! Word lists the seeded names, emails and phones are made of.

pub const CITIES: &[&str] = &[
    "北京", "上海", "深圳", "广州", "杭州", "成都", "武汉", "南京", "苏州", "天津", "重庆", "西安",
    "长沙", "青岛", "厦门", "宁波", "郑州", "合肥", "济南", "福州", "大连", "昆明",
];

/// Chinese surnames with their pinyin (for email addresses).
pub const SURNAMES: &[(&str, &str)] = &[
    ("张", "zhang"),
    ("王", "wang"),
    ("李", "li"),
    ("赵", "zhao"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("周", "zhou"),
    ("吴", "wu"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("林", "lin"),
    ("罗", "luo"),
    ("高", "gao"),
];

/// Chinese given names with their pinyin.
pub const GIVEN_NAMES: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀英", "xiuying"),
    ("建华", "jianhua"),
    ("志强", "zhiqiang"),
    ("晓明", "xiaoming"),
    ("海燕", "haiyan"),
    ("国庆", "guoqing"),
];

/// Two-character trade names, the other half of Chinese company names (`深圳华信科技有限公司`).
pub const BRANDS: &[&str] = &[
    "华信", "盛达", "恒通", "鑫源", "金诚", "瑞丰", "宏图", "天成", "永安", "新锐", "博远", "嘉禾",
];

pub const TRADES: &[&str] = &[
    "科技", "贸易", "物流", "电子", "医药", "餐饮", "建材", "机械", "化工", "服饰", "食品", "文化",
    "传媒", "能源", "软件", "咨询",
];

/// Legal-form suffixes with their weights.
pub const CN_SUFFIXES: &[(&str, u32)] = &[("有限公司", 6), ("股份有限公司", 3), ("集团", 1)];

pub const EN_FIRST_WORDS: &[&str] = &[
    "Acme",
    "Apex",
    "Atlas",
    "Beacon",
    "Bluewater",
    "Bright",
    "Cedar",
    "Crest",
    "Delta",
    "Eagle",
    "Summit",
    "Evergreen",
    "Falcon",
    "Frontier",
    "Golden",
    "Granite",
    "Harbor",
    "Horizon",
    "Iron",
    "Liberty",
    "Maple",
    "Northern",
    "Pacific",
    "Pioneer",
    "Prairie",
    "Quantum",
    "Redwood",
    "Silver",
    "Sterling",
    "Vertex",
    "Pinnacle",
    "Union",
];

pub const EN_SECOND_WORDS: &[&str] = &[
    "Robotics",
    "Logistics",
    "Software",
    "Systems",
    "Foods",
    "Pharma",
    "Analytics",
    "Energy",
    "Consulting",
    "Textiles",
    "Motors",
    "Media",
    "Dynamics",
    "Networks",
    "Holdings",
    "Industries",
    "Solutions",
    "Partners",
    "Labs",
    "Trading",
];

pub const EN_SUFFIXES: &[&str] = &["Ltd", "Inc", "LLC", "Corp", "Co", "GmbH", "Group"];

pub const EN_FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Daniel",
    "Karen",
    "Emily",
    "Kevin",
];

pub const EN_LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
];

pub const CN_MAIL_DOMAINS: &[&str] = &["163.com", "qq.com", "126.com", "sina.com", "aliyun.com"];

pub const EN_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "icloud.com",
    "example.com",
];

/// Real US area codes.
pub const US_AREA_CODES: &[u16] = &[
    212, 415, 646, 312, 213, 310, 617, 202, 305, 404, 512, 206, 303, 702, 718, 917, 773, 214, 713,
    602,
];

pub const CN_TITLES: &[&str] = &["总经理", "采购经理", "财务总监", "销售总监", "行政主管"];

pub const EN_TITLES: &[&str] = &[
    "CEO",
    "Purchasing Manager",
    "CFO",
    "Head of Sales",
    "Office Manager",
];
