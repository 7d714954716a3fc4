"""The catalog and system accounts every installation starts with (the plan's seven assets).

Used by the data migration; kept as plain data so the migration does not depend on
code that may change later.
"""

ASSET_TYPES = [
    {
        "asset_code": "DIAMOND",
        "name": "钻石",
        "icon": "💎",
        "category": "currency",
        "is_tradable": False,
        "display_order": 10,
        "legacy_names": ["钻石"],
    },
    {
        "asset_code": "red_shard",
        "name": "红色碎片",
        "icon": "🔴",
        "category": "material",
        "is_tradable": True,
        "display_order": 20,
        "legacy_names": ["红色碎片"],
    },
    {
        "asset_code": "red_crystal",
        "name": "红水晶",
        "icon": "🔶",
        "category": "material",
        "is_tradable": True,
        "display_order": 30,
        "legacy_names": ["红水晶"],
    },
    {
        "asset_code": "blue_shard",
        "name": "蓝色碎片",
        "icon": "🔵",
        "category": "material",
        "is_tradable": True,
        "display_order": 40,
        "legacy_names": ["蓝色碎片"],
    },
    {
        "asset_code": "blue_crystal",
        "name": "蓝水晶",
        "icon": "🔷",
        "category": "material",
        "is_tradable": True,
        "display_order": 50,
        "legacy_names": ["蓝水晶"],
    },
    {
        "asset_code": "green_shard",
        "name": "绿色碎片",
        "icon": "🟢",
        "category": "material",
        "is_tradable": True,
        "display_order": 60,
        "legacy_names": ["绿色碎片"],
    },
    {
        "asset_code": "green_crystal",
        "name": "绿水晶",
        "icon": "🟩",
        "category": "material",
        "is_tradable": True,
        "display_order": 70,
        "legacy_names": ["绿水晶"],
    },
]

SYSTEM_ACCOUNT_CODES = [
    "SYSTEM_ISSUANCE",
    "SYSTEM_BURN",
    "SYSTEM_PLATFORM_FEE",
    "SYSTEM_ADJUSTMENT",
    "SYSTEM_MIGRATION",
]
