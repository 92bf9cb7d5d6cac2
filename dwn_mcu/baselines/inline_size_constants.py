"""The inline XGBoost layout's code-size and frame constants per architecture (`inline_size.py`),
fitted by bench/calibrate_inline_size.py to the objects each board's compiler builds; generated, do
not edit: rerun

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD python bench/calibrate_inline_size.py --input int16

FIT_ERROR: the code fit's worst and mean relative error on its own corpus, per architecture; one
worse than 10% gets no formula (SIZE and FRAME leave it out: priced by building).
"""

SIZE = {'avr': {'base': 82.567, 'feature': 42.279, 'leaf': 16.813, 'margin': 42.386, 'node': 13.58},
 'avr int16': {'input': 2.222, 'leaf': 19.695, 'margin': 72.14, 'node': 0.344}}

FRAME = {'avr': {'base': 15.719, 'input': 3.926, 'margin': 8.217},
 'avr int16': {'base': 26.14, 'input': 0.24, 'margin': 9.732}}

FIT_ERROR = {'avr': {'mean': 0.0345, 'models': 32, 'worst': 0.0773},
 'avr int16': {'mean': 0.0278, 'models': 32, 'worst': 0.0658},
 'cortex-m0plus': {'mean': 0.1484, 'models': 32, 'worst': 0.4492},
 'cortex-m0plus int16': {'mean': 0.1378, 'models': 32, 'worst': 0.412},
 'cortex-m3': {'mean': 0.1572, 'models': 32, 'worst': 0.4624},
 'cortex-m3 int16': {'mean': 0.1484, 'models': 32, 'worst': 0.4657},
 'cortex-m4f': {'mean': 0.147, 'models': 32, 'worst': 0.4133},
 'cortex-m4f int16': {'mean': 0.1399, 'models': 32, 'worst': 0.4129}}
